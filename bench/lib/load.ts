/** The load generator: autocannon, in the bench process (pinned to the load core). */
import autocannon from 'autocannon';

export interface LoadOptions {
  url: string;
  connections: number;
  /** Seconds; ignored when `amount` is set. */
  durationSeconds?: number;
  /** Total requests, then stop. */
  amount?: number;
  method?: 'GET' | 'POST';
  path?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Rewrites each request's body (e.g. distinct scope sets to force cache misses). */
  bodyFor?: () => string;
}

export interface LoadResult {
  /** Successful (2xx) responses per second. */
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  ok: number;
  non2xx: number;
  errors: number;
  durationSeconds: number;
}

/** Runs autocannon and reduces its result to the figures the bench reports. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const request: autocannon.Request = {
    method: options.method ?? 'GET',
    path: options.path ?? '/',
    ...(options.headers ? { headers: options.headers } : {}),
    ...(options.body !== undefined ? { body: options.body } : {}),
  };
  if (options.bodyFor) {
    const bodyFor = options.bodyFor;
    request.setupRequest = (req) => ({ ...req, body: bodyFor() });
  }
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    ...(options.amount !== undefined
      ? { amount: options.amount }
      : { duration: options.durationSeconds ?? 10 }),
    requests: [request],
    timeout: 30,
  });
  return {
    reqPerSec: result['2xx'] / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    durationSeconds: result.duration,
  };
}
