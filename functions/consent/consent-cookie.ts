/**
 * The state of one consent flow, between `/start` and `/callback`, kept in the browser: a cookie
 * sealed with AES-256-GCM (consent-keys.ts) whose AAD binds the purpose and format version, so
 * no other value sealed under the key opens as this. It holds the OAuth `state`, the PKCE
 * verifier, the OIDC nonce, the scopes asked for, where to return, the IAP user who started, and
 * an expiry (10 minutes). Nothing in it is readable or changeable by the browser; a cookie that
 * does not open, or is expired, is no flow at all.
 *
 * Attributes: HttpOnly, SameSite=Lax (the callback is a top-level GET navigation from Google, on
 * which Lax cookies are sent), Path=/v1/consent, Secure unless the consent side itself is served
 * over http on localhost (the local stack). One flow per browser at a time: a new start replaces it.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export const STATE_COOKIE = 'tvs_consent_state';
export const STATE_COOKIE_PATH = '/v1/consent';
export const FLOW_LIFETIME_MS = 10 * 60_000;
const AAD = Buffer.from('tvs-consent-state-cookie\0v1', 'utf8');
const MAX_COOKIE_CHARS = 3800;

export interface ConsentFlow {
  state: string;
  verifier: string;
  nonce: string;
  scopes: string[];
  returnTo: string;
  /** The IAP `sub` (`accounts.google.com:<id>`) of the user who started the flow. */
  iapSub: string;
  /** Epoch ms. */
  exp: number;
}

export function sealFlow(key: Buffer, flow: ConsentFlow): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(AAD);
  const body = Buffer.concat([cipher.update(JSON.stringify(flow), 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

/** The flow, or a reason it is none (no secret in the reason). */
export function openFlow(
  key: Buffer,
  sealed: string | undefined,
  nowMs: number,
): ConsentFlow | { rejected: 'MISSING' | 'MALFORMED' | 'TAMPERED' | 'EXPIRED' } {
  if (sealed === undefined || sealed === '') return { rejected: 'MISSING' };
  if (sealed.length > MAX_COOKIE_CHARS || !/^[A-Za-z0-9_-]+$/.test(sealed)) return { rejected: 'MALFORMED' };
  const bytes = Buffer.from(sealed, 'base64url');
  if (bytes.length < 12 + 16 + 2) return { rejected: 'MALFORMED' };
  let plain: string;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, 12));
    decipher.setAAD(AAD);
    decipher.setAuthTag(bytes.subarray(12, 28));
    plain = Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]).toString('utf8');
  } catch {
    return { rejected: 'TAMPERED' };
  }
  const flow = parseFlow(plain);
  if (!flow) return { rejected: 'MALFORMED' };
  if (flow.exp <= nowMs) return { rejected: 'EXPIRED' };
  return flow;
}

function parseFlow(text: string): ConsentFlow | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const f = v as Record<string, unknown>;
  const str = (k: string) => typeof f[k] === 'string' && f[k] !== '';
  if (!['state', 'verifier', 'nonce', 'returnTo', 'iapSub'].every(str)) return undefined;
  if (typeof f.exp !== 'number' || !Array.isArray(f.scopes) || !f.scopes.every((s) => typeof s === 'string'))
    return undefined;
  return f as unknown as ConsentFlow;
}

/** `Set-Cookie` for a flow; `secure` false only for an http localhost consent side. */
export function flowCookie(sealed: string, secure: boolean): string {
  return `${STATE_COOKIE}=${sealed}; Path=${STATE_COOKIE_PATH}; Max-Age=${FLOW_LIFETIME_MS / 1000}; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
}

/** `Set-Cookie` that removes the flow cookie. */
export function clearedFlowCookie(secure: boolean): string {
  return `${STATE_COOKIE}=; Path=${STATE_COOKIE_PATH}; Max-Age=0; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
}

/** The value of cookie `name` in a `Cookie` header (the last one wins, as a sealed value must be exact anyway). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  let found: string | undefined;
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) found = part.slice(eq + 1).trim();
  }
  return found;
}
