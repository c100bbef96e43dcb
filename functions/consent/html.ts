/**
 * Writing the consent side's responses: HTML with a strict CSP (no script at all; the one inline
 * style allowed by its hash), no framing, no caching, no referrer (a callback URL carries a code),
 * and redirects. Every dynamic value in a page goes through {@link escapeHtml}.
 */
import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';

export const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem;color:#1f1f1f}
h1{font-size:1.4rem}ul{padding-left:1.2rem}code{font-size:.9rem}.notice{padding:.6rem .8rem;background:#eef3fd;border-radius:6px}
.revoked{color:#a50e0e}button{font:inherit;padding:.4rem 1rem}`;
const STYLE_HASH = createHash('sha256').update(STYLE, 'utf8').digest('base64');

/**
 * `form-action` also governs where a form submission may be redirected: the grant form's GET to
 * `/v1/consent/start` ends at Google's authorization endpoint, so a page with that form names its
 * origin (`formTargets`).
 */
export function contentSecurityPolicy(formTargets: readonly string[] = []): string {
  return `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; form-action ${["'self'", ...formTargets].join(' ')}; frame-ancestors 'none'; base-uri 'none'`;
}

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': contentSecurityPolicy(),
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  pragma: 'no-cache',
};

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`=]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A whole page around `body` (already escaped HTML). */
export function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body>${body}</body></html>
`;
}

export function sendHtml(
  res: ServerResponse,
  status: number,
  html: string,
  headers: Record<string, string | string[]> = {},
): void {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    ...headers,
    'content-type': 'text/html; charset=utf-8',
    'content-length': String(Buffer.byteLength(html)),
  });
  res.end(html);
}

/** A page that says what went wrong, in words for a person; the detail is in the log. */
export function sendErrorPage(
  res: ServerResponse,
  status: number,
  title: string,
  message: string,
  headers: Record<string, string | string[]> = {},
): void {
  sendHtml(
    res,
    status,
    page(
      title,
      `<h1>${escapeHtml(title)}</h1><p id="message">${escapeHtml(message)}</p><p><a href="/v1/consent">Back to your access page</a></p>`,
    ),
    headers,
  );
}

export function redirect(
  res: ServerResponse,
  status: 302 | 303,
  location: string,
  headers: Record<string, string | string[]> = {},
): void {
  res.writeHead(status, { ...SECURITY_HEADERS, ...headers, location, 'content-length': '0' });
  res.end();
}
