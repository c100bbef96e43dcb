/**
 * Google's published per-project quotas on the APIs the token function calls, with where they were
 * read. `perMinute: null` means we found no published number: the model reports the calls and
 * claims nothing about a limit.
 */
import type { UpstreamRates } from './closed-form.js';

export interface GoogleQuota {
  id: 'iamCredentials' | 'secretManagerAccess' | 'tokenEndpoint' | 'sts';
  name: string;
  /** Requests per minute per project, or null when no published figure was found. */
  perMinute: number | null;
  /** The model's calls that count against it. */
  counts: (rates: UpstreamRates) => number;
  source: string;
}

export const GOOGLE_QUOTAS: readonly GoogleQuota[] = [
  {
    id: 'iamCredentials',
    name: 'IAM Service Account Credentials API, requests to generate credentials (generateAccessToken + generateIdToken)',
    perMinute: 60_000,
    counts: (r) => r.iamCredentials,
    source: 'https://cloud.google.com/iam/quotas',
  },
  {
    id: 'secretManagerAccess',
    name: 'Secret Manager, access requests (AccessSecretVersion: SA keys + policy)',
    perMinute: 90_000,
    counts: (r) => r.secretManagerKeyReads + r.secretManagerPolicyReads,
    source: 'https://docs.cloud.google.com/secret-manager/quotas',
  },
  {
    id: 'tokenEndpoint',
    name: 'OAuth 2.0 token endpoint, jwt-bearer grant (oauth2.googleapis.com/token)',
    perMinute: null,
    counts: (r) => r.tokenEndpoint,
    source: 'none published that we found',
  },
  {
    id: 'sts',
    name: 'Security Token Service API, token exchange (downscoping)',
    perMinute: null,
    counts: (r) => r.sts,
    source: 'listed on https://cloud.google.com/iam/quotas; the value was not in the copy we could read',
  },
];

/** Whether `calls` per minute exceed `quota` (never, when its limit is unknown). */
export function exceeds(quota: GoogleQuota, calls: number): boolean {
  return quota.perMinute !== null && calls > quota.perMinute;
}

/**
 * The smallest `instances` in `grid` (ascending) whose value exceeds the quota, or null.
 * `value(instances)` is the calls per minute at that point.
 */
export function firstExceeding(
  quota: GoogleQuota,
  grid: readonly number[],
  value: (point: number) => number,
): number | null {
  for (const point of grid) if (exceeds(quota, value(point))) return point;
  return null;
}
