/**
 * `exp` of an ID token Google just returned over TLS, in ms, or `undefined` when it has none a cache
 * could use (not a JWT, no numeric `exp`). Only sizes the cache entry: the token is handed on, never
 * trusted for anything else here, so its signature is not checked.
 */
import { decodeJwt } from 'jose';

export function idTokenExpiryMs(idToken: string): number | undefined {
  let exp: unknown;
  try {
    exp = decodeJwt(idToken).exp;
  } catch {
    return undefined; // not a JWT: a garbled answer, like a missing exp
  }
  return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : undefined;
}
