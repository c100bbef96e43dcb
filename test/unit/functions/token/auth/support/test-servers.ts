import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';

type Route = (req: IncomingMessage, res: ServerResponse, url: URL) => void;

/** A tiny HTTP server on an ephemeral port that counts requests per path. */
export interface TestServer {
  baseUrl: string;
  /** Requests seen for `path` (pathname only), or in total when omitted. */
  count(path?: string): number;
  /** Full URLs (with query) of every request, in order. */
  readonly urls: URL[];
  route(path: string, handler: Route): void;
  json(path: string, body: unknown, headers?: Record<string, string>): void;
  /** Accepts requests on `path` and never answers them. */
  hang(path: string): void;
  close(): Promise<void>;
}

export async function startTestServer(): Promise<TestServer> {
  const routes = new Map<string, Route>();
  const urls: URL[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://test.invalid');
    urls.push(url);
    const handler = routes.get(url.pathname);
    if (handler === undefined) {
      res.writeHead(404).end();
      return;
    }
    handler(req, res, url);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    baseUrl,
    urls,
    count: (path) => (path === undefined ? urls.length : urls.filter((u) => u.pathname === path).length),
    route: (path, handler) => routes.set(path, handler),
    json(path, body, headers = {}) {
      routes.set(path, (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(body));
      });
    },
    hang: (path) => routes.set(path, () => undefined),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Everything an error would show in a log: message, detail, own fields and the cause chain. */
export function serializeError(error: unknown): string {
  const plain = error instanceof Error ? { ...error, message: error.message } : { value: error };
  return `${inspect(error, { depth: 20, showHidden: true })}\n${JSON.stringify(plain)}`;
}

/** The settled rejection of `promise` (fails the test if it resolves). */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${inspect(value)}`);
    },
    (error: unknown) => error,
  );
}
