import type { ResponseHeaders } from '../../../shared/http/bounded-fetch.js';

/**
 * Seconds a response may be used for according to `Cache-Control: max-age` minus `Age`
 * (RFC 9111 §4.2); `no-store`/`no-cache` give 0; `undefined` when the response says nothing.
 */
export function freshnessSeconds(headers: ResponseHeaders): number | undefined {
  const cacheControl = headers.get('cache-control');
  if (cacheControl === null) return undefined;
  const directives = cacheControl.split(',').map((d) => d.trim().toLowerCase());
  if (directives.some((d) => d === 'no-store' || d === 'no-cache')) return 0;
  const maxAge = directives.map((d) => /^max-age\s*=\s*"?(\d+)"?$/.exec(d)?.[1]).find((v) => v !== undefined);
  if (maxAge === undefined) return undefined;
  const age = Number(headers.get('age')?.match(/^\d+$/)?.[0] ?? 0);
  return Math.max(0, Number(maxAge) - age);
}
