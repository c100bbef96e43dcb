/**
 * `return_to` of `/v1/consent/start`: where the browser goes after the callback. An open redirect
 * here would turn the consent side into a phishing hop, so the check is an allowlist over the raw
 * text, not over what a URL parser makes of it (parsers disagree about `\`, tabs, `//`, userinfo):
 * - a path on the consent side's own origin: `/…`, not `//…` or `/\…`;
 * - an absolute URL whose text begins with one of the configured exact origins followed by `/`,
 *   `?`, `#` or nothing (so `https://good@evil`, `https://good.evil`, another port or scheme fail);
 * and in both, only printable ASCII without `\`, and no percent-encoded `/`, `\` or control
 * character (`%2f`, `%5c`, `%00`–`%1f`, `%7f`), which some servers and browsers decode into one.
 * Anything else is refused (400), never silently replaced.
 */

const SAFE_TEXT = /^[\x21-\x7e]+$/;
const ENCODED_DANGER = /%(2f|5c|[01][0-9a-f]|7f)/i;
const MAX_CHARS = 2048;

/** The absolute URL to send the browser to, or undefined when `raw` is not allowed. */
export function checkReturnTo(
  raw: string,
  selfOrigin: string,
  allowedOrigins: readonly string[],
): string | undefined {
  if (raw.length === 0 || raw.length > MAX_CHARS || !SAFE_TEXT.test(raw) || raw.includes('\\'))
    return undefined;
  if (ENCODED_DANGER.test(raw)) return undefined;
  if (raw.startsWith('/')) {
    if (raw.startsWith('//')) return undefined;
    const url = new URL(raw, selfOrigin);
    return url.origin === selfOrigin ? url.href : undefined;
  }
  for (const origin of [selfOrigin, ...allowedOrigins]) {
    if (!raw.startsWith(origin)) continue;
    const next = raw.charAt(origin.length);
    if (next !== '' && next !== '/' && next !== '?' && next !== '#') continue;
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      return undefined;
    }
    // Belt and braces: the parser must agree with the text.
    if (url.origin !== origin || url.username !== '' || url.password !== '') return undefined;
    return url.href;
  }
  return undefined;
}
