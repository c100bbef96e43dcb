/**
 * Keys the consent side derives from the OAuth client secret with HKDF-SHA256 (RFC 5869), one per
 * use (the `info` names it), so every instance derives the same keys without another secret:
 * - the state cookie's AES-256-GCM key (consent-cookie.ts);
 * - the revoke form's CSRF MAC key (csrf-token.ts).
 * Rotating the client secret invalidates flows in progress (10 minutes) and open pages: acceptable.
 */
import { hkdfSync } from 'node:crypto';

export interface ConsentKeys {
  readonly cookieKey: Buffer;
  readonly csrfKey: Buffer;
}

const SALT = 'tvs-consent-keys';

export function deriveConsentKeys(clientSecret: string): ConsentKeys {
  if (clientSecret.length === 0) throw new TypeError('deriveConsentKeys: empty client secret');
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', clientSecret, SALT, info, 32));
  return {
    cookieKey: derive('tvs-consent-state-cookie v1'),
    csrfKey: derive('tvs-consent-csrf v1'),
  };
}
