/**
 * A raw HTTP client for attack and fuzz traffic: any method, path and header bytes Node lets
 * through, the body exactly as given, and the response read whole. `fetch` normalises too much.
 */
import { Agent, request } from 'node:http';

export interface RawRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: any;
}

const agent = new Agent({ keepAlive: true, maxSockets: 512 });

/** Sends one request to `baseUrl` and reads the whole answer (30 s cap). */
export function send(baseUrl: string, req: RawRequest): Promise<RawResponse> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const body =
      req.body === undefined
        ? undefined
        : Buffer.isBuffer(req.body)
          ? req.body
          : Buffer.from(req.body, 'utf8');
    const outgoing = request(
      {
        host: url.hostname,
        port: url.port,
        method: req.method,
        path: req.path,
        agent,
        timeout: 30_000,
        headers: { ...(body ? { 'content-length': String(body.length) } : {}), ...req.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: any;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    outgoing.on('timeout', () =>
      outgoing.destroy(new Error(`request timed out: ${req.method} ${req.path.slice(0, 80)}`)),
    );
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

/** A JSON POST with an optional bearer. */
export function postJson(
  baseUrl: string,
  path: string,
  body: unknown,
  authorization?: string,
): Promise<RawResponse> {
  return send(baseUrl, {
    method: 'POST',
    path,
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** A form POST to `/v1/token`. */
export function postForm(
  baseUrl: string,
  params: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  return send(baseUrl, {
    method: 'POST',
    path: '/v1/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(params).toString(),
  });
}

/** Closes idle keep-alive sockets (call in afterAll so no socket outlives the test file). */
export function closeIdleSockets(): void {
  agent.destroy();
}
