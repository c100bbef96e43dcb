/**
 * One `generateAccessToken` call to the token vending service (its IAM Credentials-compatible
 * API), with a deadline and a capped response size. Non-2xx answers throw {@link HttpAnswerError}
 * so the retry loop can classify them; the caller turns the final one into a friendly error.
 */
import { boundedFetch } from '../shared/http/bounded-fetch.js';
import { parseJson } from '../shared/json.js';
import { HttpAnswerError } from './errors.js';

export interface AccessTokenCall {
  /** Base URL of the token function, e.g. `https://europe-west1-my-project.cloudfunctions.net/tvs-token`. */
  serviceUrl: string;
  targetServiceAccount: string;
  scopes: readonly string[];
  lifetimeSeconds?: number;
  /** The workload's own credential (an OIDC ID token) for `Authorization: Bearer`. */
  callerToken: string;
  signal?: AbortSignal;
  timeoutMs?: number;
  fetchImpl?: typeof fetch;
}

export interface VendedAccessToken {
  token: string;
  expiresAtMs: number;
}

const MAX_RESPONSE_BYTES = 64 * 1024;
const DEFAULT_TIMEOUT_MS = 10_000;

/** The path of an IAM-style method for a service account (`projects/-`, as Google expects). */
export function serviceAccountPath(email: string, method: 'generateAccessToken' | 'generateIdToken'): string {
  return `/v1/projects/-/serviceAccounts/${encodeURIComponent(email).replace(/%40/g, '@')}:${method}`;
}

/** Asks the service for an access token; throws HttpAnswerError (non-2xx) or a transport error. */
export async function fetchVendedAccessToken(call: AccessTokenCall): Promise<VendedAccessToken> {
  const url = `${call.serviceUrl.replace(/\/+$/, '')}${serviceAccountPath(call.targetServiceAccount, 'generateAccessToken')}`;
  const body: Record<string, unknown> = { scope: [...call.scopes] };
  if (call.lifetimeSeconds !== undefined) body.lifetime = `${call.lifetimeSeconds}s`;
  const res = await boundedFetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${call.callerToken}` },
    body: JSON.stringify(body),
    timeoutMs: call.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    maxBytes: MAX_RESPONSE_BYTES,
    ...(call.signal === undefined ? {} : { signal: call.signal }),
    ...(call.fetchImpl === undefined ? {} : { fetchImpl: call.fetchImpl }),
  });
  const json = parseJson(res.text);
  if (res.status < 200 || res.status > 299) throw new HttpAnswerError(res.status, json, res.headers);
  const { accessToken, expireTime } = (json ?? {}) as { accessToken?: unknown; expireTime?: unknown };
  const expiresAtMs = typeof expireTime === 'string' ? Date.parse(expireTime) : Number.NaN;
  if (typeof accessToken !== 'string' || accessToken === '' || !Number.isFinite(expiresAtMs)) {
    // A garbled 200 (a proxy, a truncated body) is treated as a transient server fault.
    throw new HttpAnswerError(
      502,
      {
        error: {
          code: 502,
          status: 'UNAVAILABLE',
          message: 'The token service answered 200 without a token',
        },
      },
      res.headers,
    );
  }
  return { token: accessToken, expiresAtMs };
}
