/**
 * Issue 16: what a mint cost, for the audit entry (`mint`), and which upstream an error came from
 * (`upstream`). The upstream travels on the error object itself (a WeakMap keyed by it), set where
 * the call is made, never guessed from a message.
 */
export type Upstream = 'token_endpoint' | 'iam_credentials' | 'secret_manager' | 'sts';

export interface MintInfo {
  backend: 'key' | 'keyless';
  /** Time spent minting upstream, retries and backoff included. */
  latencyMs: number;
  /** Upstream attempts made (>= 1). */
  attempts: number;
}

const upstreams = new WeakMap<object, Upstream>();
const mints = new WeakMap<object, MintInfo>();

/** Records that `err` was raised by (or while calling) `upstream`; the first tag wins. */
export function tagUpstream(err: unknown, upstream: Upstream): void {
  if (typeof err === 'object' && err !== null && !upstreams.has(err)) upstreams.set(err, upstream);
}

export function upstreamOf(err: unknown): Upstream | undefined {
  return typeof err === 'object' && err !== null ? upstreams.get(err) : undefined;
}

/** Records the mint a failed request made before failing (the audit entry's `mint`). */
export function tagMint(err: unknown, info: MintInfo): void {
  if (typeof err === 'object' && err !== null && !mints.has(err)) mints.set(err, info);
}

export function mintOf(err: unknown): MintInfo | undefined {
  return typeof err === 'object' && err !== null ? mints.get(err) : undefined;
}
