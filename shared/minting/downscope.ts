/**
 * Downscoping at Google's Security Token Service: an access token goes in with a Credential Access
 * Boundary, a token that can reach at most what the boundary allows comes out
 * (cloud.google.com/iam/docs/downscoping-short-lived-credentials). One attempt per call; retries are
 * the caller's. Transient failures (5xx, 429, network, timeouts, garbled 200s) are an
 * {@link UpstreamUnavailable}; STS refusals (4xx) a final {@link InternalError}: the boundary comes
 * from our policy, so a refusal is the operator's to fix, not the caller's.
 *
 * STS needs no `Authorization` header and no IAM role for this (its `token` method takes none;
 * the subject token is the only credential).
 */
import { createHash } from 'node:crypto';
import { InternalError, UpstreamUnavailable } from '../errors.js';
import { readGoogleError } from '../google-error.js';
import { postForm, transportFailure } from '../http/bounded-fetch.js';
import { parseRetryAfter } from '../http/retry.js';
import { parseJsonObject } from '../json.js';
import { ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT } from '../sts.js';

/** A rendered Credential Access Boundary, as STS takes it in `options` (`{"accessBoundary": <this>}`). */
export interface AccessBoundary {
  accessBoundaryRules: Array<{
    availableResource: string;
    availablePermissions: string[];
    availabilityCondition?: { expression: string; title?: string; description?: string };
  }>;
}

/** Canonical JSON of a boundary: fixed key order, absent optional fields left out. */
export function canonicalBoundary(boundary: AccessBoundary): string {
  return JSON.stringify({
    accessBoundaryRules: boundary.accessBoundaryRules.map((r) => {
      const c = r.availabilityCondition;
      return {
        availableResource: r.availableResource,
        availablePermissions: r.availablePermissions,
        ...(c
          ? {
              availabilityCondition: {
                expression: c.expression,
                ...(c.title === undefined ? {} : { title: c.title }),
                ...(c.description === undefined ? {} : { description: c.description }),
              },
            }
          : {}),
      };
    }),
  });
}

/** `sha256:<hex>` of {@link canonicalBoundary}: names a rendered boundary in cache keys and audit entries. */
export function boundaryFingerprint(boundary: AccessBoundary): string {
  return `sha256:${createHash('sha256').update(canonicalBoundary(boundary)).digest('hex')}`;
}

export interface DownscopeOptions {
  signal?: AbortSignal;
  timeoutMs: number;
  fetchImpl?: typeof fetch;
  now?: () => number;
}

const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * Exchanges `sourceToken` (expiring at `sourceExpiresAtMs`) for a downscoped token. The downscoped
 * token cannot outlive its source: STS answers `expires_in` for service-account sources, and when it
 * does not, the source's expiry is used (google-auth-library's DownscopedClient does the same);
 * either way the result is capped at the source's expiry.
 */
export async function downscopeAccessToken(
  stsUrl: string,
  sourceToken: string,
  sourceExpiresAtMs: number,
  boundary: AccessBoundary,
  options: DownscopeOptions,
): Promise<{ token: string; expiresAtMs: number }> {
  const now = options.now ?? Date.now;
  const sentAtMs = now();
  let response;
  try {
    response = await postForm(
      stsUrl,
      {
        grant_type: TOKEN_EXCHANGE_GRANT,
        subject_token_type: ACCESS_TOKEN_TYPE,
        requested_token_type: ACCESS_TOKEN_TYPE,
        subject_token: sourceToken,
        options: JSON.stringify({ accessBoundary: JSON.parse(canonicalBoundary(boundary)) as unknown }),
      },
      {
        timeoutMs: options.timeoutMs,
        maxBytes: MAX_RESPONSE_BYTES,
        signal: options.signal,
        fetchImpl: options.fetchImpl,
      },
    );
  } catch (err) {
    throw unavailable(transportFailure('STS', err), undefined, err);
  }
  const body = parseJsonObject(response.text);
  if (response.status !== 200) {
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), now());
    const { reason: oauthError, message } = readGoogleError(body);
    // error_description is STS's own text about our request (never the subject token).
    const description = message === undefined ? '' : `: ${message.slice(0, 300)}`;
    const answered = `STS answered ${response.status} ${oauthError ?? ''}${description}`.trim();
    if (response.status >= 500 || response.status === 429) throw unavailable(answered, retryAfterMs);
    throw new InternalError('Google refused to downscope the token.', {
      reason: 'DOWNSCOPE_REJECTED',
      detail: answered,
    });
  }
  if (!body) throw unavailable('STS answered 200 with a body that is not a JSON object');
  if (typeof body.access_token !== 'string' || !body.access_token)
    throw unavailable('STS answered 200 without an access_token');
  let expiresAtMs = sourceExpiresAtMs;
  if (body.expires_in !== undefined) {
    const expiresIn = Number(body.expires_in);
    if (!Number.isFinite(expiresIn) || expiresIn <= 0)
      throw unavailable('STS answered with an invalid expires_in');
    expiresAtMs = Math.min(sourceExpiresAtMs, sentAtMs + expiresIn * 1000);
  }
  return { token: body.access_token, expiresAtMs };
}

function unavailable(detail: string, retryAfterMs?: number, cause?: unknown): UpstreamUnavailable {
  return new UpstreamUnavailable('The token service is unavailable; try again later.', {
    reason: 'STS_UNAVAILABLE',
    detail,
    retryAfterMs,
    ...(cause === undefined ? {} : { cause }),
  });
}
