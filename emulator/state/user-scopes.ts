/**
 * The OAuth scopes a user can consent to at the emulated authorization endpoint, and how Google
 * names them back. Google accepts the OpenID shorthands `email` and `profile` and answers with
 * their full names: a token asked for `openid email` reports
 * `scope: "https://www.googleapis.com/auth/userinfo.email openid"` (seen in token responses, e.g.
 * github.com/suculent/thinx-device-api#322), and the authorization redirect lists both spellings
 * (`scope=email profile https://www.googleapis.com/auth/userinfo.profile …/userinfo.email openid`,
 * e.g. github.com/atinux/nuxt-auth-utils#440).
 */

export const OPENID = 'openid';
export const USERINFO_EMAIL = 'https://www.googleapis.com/auth/userinfo.email';
export const USERINFO_PROFILE = 'https://www.googleapis.com/auth/userinfo.profile';

/** Shorthand → the full scope Google reports for it. */
const ALIASES: Readonly<Record<string, string>> = {
  email: USERINFO_EMAIL,
  profile: USERINFO_PROFILE,
};

const API = 'https://www.googleapis.com/auth/';

/**
 * Scopes the emulator knows (Google knows many more; anything else is `invalid_scope` here).
 * Identity, Drive (including the metadata scopes the Drive `about` endpoint accepts), Gemini
 * (generative-language: tuned models and semantic retrieval need user credentials), Cloud
 * Platform, Sheets, Gmail, Calendar.
 */
export const KNOWN_USER_SCOPES: ReadonlySet<string> = new Set([
  OPENID,
  USERINFO_EMAIL,
  USERINFO_PROFILE,
  `${API}drive`,
  `${API}drive.readonly`,
  `${API}drive.file`,
  `${API}drive.appdata`,
  `${API}drive.metadata`,
  `${API}drive.metadata.readonly`,
  `${API}drive.photos.readonly`,
  `${API}drive.apps.readonly`,
  `${API}generative-language.retriever`,
  `${API}generative-language.tuning`,
  `${API}cloud-platform`,
  `${API}cloud-platform.read-only`,
  `${API}spreadsheets`,
  `${API}spreadsheets.readonly`,
  `${API}gmail.readonly`,
  `${API}gmail.send`,
  `${API}calendar`,
  `${API}calendar.readonly`,
]);

/** Scopes a user cannot leave unchecked on the consent screen (sign-in itself). */
export const IDENTITY_SCOPES: ReadonlySet<string> = new Set([OPENID, USERINFO_EMAIL, USERINFO_PROFILE]);

/** The full name of a scope (`email` → `…/userinfo.email`); other scopes unchanged. */
export function canonicalScope(scope: string): string {
  return ALIASES[scope] ?? scope;
}

/** Splits a space-delimited `scope` parameter (RFC 6749 §3.3), dropping empty entries. */
export function splitScopes(value: string | null | undefined): string[] {
  return (value ?? '').split(' ').filter((s) => s !== '');
}

/** Canonical, de-duplicated scopes, in first-seen order. */
export function canonicalScopes(scopes: Iterable<string>): string[] {
  return [...new Set([...scopes].map(canonicalScope))];
}

/** The scopes of `requested` the emulator does not know (in request order). */
export function unknownScopes(requested: readonly string[]): string[] {
  return requested.filter((s) => !KNOWN_USER_SCOPES.has(canonicalScope(s)));
}

/**
 * The `scope` parameter of the authorization redirect: the shorthands the request used, then the
 * full names of every granted scope.
 */
export function redirectScopeParameter(requested: readonly string[], granted: readonly string[]): string {
  const shorthands = requested.filter((s) => s in ALIASES && granted.includes(canonicalScope(s)));
  return [...new Set([...shorthands, ...granted])].join(' ');
}
