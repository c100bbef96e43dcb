/**
 * The revoke form's CSRF token: `<issued-at seconds>.<HMAC-SHA256(csrfKey, iapSub, issued-at)>`,
 * bound to the IAP user the page was rendered for and valid one hour. Stateless (no cookie to
 * plant or read): another user's token, an old one or a guessed one fails; the revoke route
 * also checks `Origin`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const CSRF_LIFETIME_SECONDS = 3600;

const mac = (key: Buffer, iapSub: string, issuedAt: number) =>
  createHmac('sha256', key).update(`tvs-consent-csrf\0${iapSub}\0${issuedAt}`, 'utf8').digest('base64url');

export function issueCsrfToken(key: Buffer, iapSub: string, nowMs: number): string {
  const issuedAt = Math.floor(nowMs / 1000);
  return `${issuedAt}.${mac(key, iapSub, issuedAt)}`;
}

export function checkCsrfToken(key: Buffer, iapSub: string, token: unknown, nowMs: number): boolean {
  if (typeof token !== 'string' || token.length > 100) return false;
  const m = /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!m) return false;
  const issuedAt = Number(m[1]);
  const now = Math.floor(nowMs / 1000);
  if (issuedAt > now + 60 || now - issuedAt > CSRF_LIFETIME_SECONDS) return false;
  const expected = Buffer.from(mac(key, iapSub, issuedAt), 'utf8');
  const given = Buffer.from(m[2], 'utf8');
  return expected.length === given.length && timingSafeEqual(expected, given);
}
