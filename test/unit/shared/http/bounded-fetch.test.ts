import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect, promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { selfSignedCertificatePem } from '../../../../emulator/state/x509-self-signed.js';
import { boundedFetch, FetchError } from '../../../../shared/http/bounded-fetch.js';
import { freePort } from '../../../support/free-port.js';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

let server: Server;
let base: string;
let handler: Handler;
let requests: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  requests = [];
  handler = (_req, res) => res.end('ok');
});

async function fetchError(promise: Promise<unknown>): Promise<FetchError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FetchError);
  return error as FetchError;
}

/** Node ≥ 24.5: agents take `proxyEnv` (Node 20 has no such option). */
function nodeHasProxyEnv(): boolean {
  const [major, minor] = process.versions.node.split('.').map(Number);
  return major > 24 || (major === 24 && minor >= 5);
}

/** One boundedFetch in a fresh Node with `env` added (settings Node reads only at start-up). */
async function runBoundedFetch(url: string, env: Record<string, string>): Promise<unknown> {
  const module = new URL('../../../../shared/http/bounded-fetch.ts', import.meta.url).href;
  const script = `const { boundedFetch } = await import(${JSON.stringify(module)});
    const r = await boundedFetch(${JSON.stringify(url)}, { timeoutMs: 5000, maxBytes: 100 });
    process.stdout.write(JSON.stringify({ status: r.status, text: r.text }));`;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', script],
    { env: { ...process.env, ...env }, timeout: 60_000 },
  );
  return JSON.parse(stdout);
}

/** A body that never ends: 4 KiB a millisecond into `stream` until the client goes away (or 10 MB). */
function endlessBody() {
  let wrote = 0;
  return {
    wrote: () => wrote,
    into(stream: { destroyed: boolean; write(chunk: string): unknown; destroy(): unknown }): void {
      const timer = setInterval(() => {
        if (stream.destroyed || wrote > 10_000_000) {
          clearInterval(timer);
          stream.destroy();
          return;
        }
        wrote += 4096;
        stream.write('y'.repeat(4096));
      }, 1);
    },
  };
}

describe('boundedFetch', () => {
  it('returns the status, headers and body text of a response', async () => {
    handler = (_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json', 'x-test': 'yes' });
      res.end('{"error":"nope"}');
    };
    const response = await boundedFetch(`${base}/doc`, { timeoutMs: 2000, maxBytes: 1024 });
    expect(response.status).toBe(404);
    expect(response.headers.get('x-test')).toBe('yes');
    expect(response.text).toBe('{"error":"nope"}');
  });

  it('sends the method, headers and body it is given', async () => {
    handler = (_req, res, body) => res.end(body.toUpperCase());
    const response = await boundedFetch(`${base}/post`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-extra': '1' },
      body: 'a=b',
      timeoutMs: 2000,
      maxBytes: 1024,
    });
    expect(response.text).toBe('A=B');
    expect(requests).toHaveLength(1);
    expect(requests[0].method).toBe('POST');
    expect(requests[0].headers['x-extra']).toBe('1');
    expect(requests[0].body).toBe('a=b');
  });

  it('accepts a body of exactly maxBytes', async () => {
    handler = (_req, res) => res.end('x'.repeat(100));
    const response = await boundedFetch(`${base}/exact`, { timeoutMs: 2000, maxBytes: 100 });
    expect(response.text).toHaveLength(100);
  });

  it('rejects a body larger than maxBytes announced by Content-Length', async () => {
    handler = (_req, res) => res.end('x'.repeat(101));
    const error = await fetchError(boundedFetch(`${base}/big`, { timeoutMs: 2000, maxBytes: 100 }));
    expect(error.kind).toBe('too_large');
  });

  it('rejects a streamed body that grows past maxBytes without a Content-Length', async () => {
    const drip = endlessBody();
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' }); // chunked: no Content-Length
      drip.into(res);
    };
    const error = await fetchError(boundedFetch(`${base}/stream`, { timeoutMs: 5000, maxBytes: 10_000 }));
    expect(error.kind).toBe('too_large');
    expect(drip.wrote()).toBeLessThan(10_000_000);
  });

  it('counts streamed bytes even when Content-Length claims a small body', async () => {
    const encoder = new TextEncoder();
    let pulls = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulls += 1;
        controller.enqueue(encoder.encode('w'.repeat(64)));
      },
    });
    const fetchImpl = (() =>
      Promise.resolve(new Response(body, { headers: { 'content-length': '3' } }))) as typeof fetch;
    const error = await fetchError(
      boundedFetch('https://example.test/lie', { timeoutMs: 2000, maxBytes: 100, fetchImpl }),
    );
    expect(error.kind).toBe('too_large');
    expect(pulls).toBeLessThan(10);
  });

  it('times out when the server never answers', async () => {
    handler = () => undefined;
    const started = Date.now();
    const error = await fetchError(boundedFetch(`${base}/hang`, { timeoutMs: 150, maxBytes: 100 }));
    expect(error.kind).toBe('timeout');
    expect(error.message).toBe('request timed out after 150 ms');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('times out when the body stalls after the headers', async () => {
    handler = (_req, res) => {
      res.writeHead(200);
      res.write('partial');
    };
    const error = await fetchError(boundedFetch(`${base}/stall`, { timeoutMs: 150, maxBytes: 100 }));
    expect(error.kind).toBe('timeout');
  });

  it('reports a caller abort as aborted, not as a timeout', async () => {
    handler = () => undefined;
    const controller = new AbortController();
    const pending = boundedFetch(`${base}/abort`, {
      timeoutMs: 10_000,
      maxBytes: 100,
      signal: controller.signal,
    });
    await expect.poll(() => requests.length).toBe(1);
    controller.abort();
    const error = await fetchError(pending);
    expect(error.kind).toBe('aborted');
  });

  it('reports a caller abort after the headers were sent as aborted', async () => {
    const controller = new AbortController();
    handler = (_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('first part', () => controller.abort()); // once headers and part of the body are sent
    };
    const error = await fetchError(
      boundedFetch(`${base}/abort-late`, { timeoutMs: 10_000, maxBytes: 1000, signal: controller.signal }),
    );
    expect(error.kind).toBe('aborted');
  });

  it('refuses to start with an already aborted signal', async () => {
    const error = await fetchError(
      boundedFetch(`${base}/x`, { timeoutMs: 1000, maxBytes: 100, signal: AbortSignal.abort() }),
    );
    expect(error.kind).toBe('aborted');
    expect(requests).toHaveLength(0);
  });

  it('never follows a redirect', async () => {
    handler = (req, res) => {
      if (req.url === '/elsewhere') {
        res.end('followed');
        return;
      }
      res.writeHead(302, { location: '/elsewhere' });
      res.end();
    };
    const error = await fetchError(boundedFetch(`${base}/redirect`, { timeoutMs: 2000, maxBytes: 100 }));
    expect(error.kind).toBe('network');
    expect(requests.map((r) => r.url)).toEqual(['/redirect']);
  });

  it('reports a refused connection as a network error', async () => {
    const error = await fetchError(
      boundedFetch(`http://127.0.0.1:${await freePort()}/`, { timeoutMs: 2000, maxBytes: 100 }),
    );
    expect(error.kind).toBe('network');
  });

  it.each([
    ['a timeout', () => `${base}/q`],
    ['a refused connection', async () => `http://127.0.0.1:${await freePort()}/q`],
    ['a connection cut mid-body', () => `${base}/cut-secret`],
  ])('keeps query strings, request bodies and auth headers out of errors: %s', async (_name, target) => {
    handler = (req, res) => {
      if (!req.url?.startsWith('/cut-secret')) return; // never answers: the deadline fires
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
      setImmediate(() => res.destroy());
    };
    const secret = 'ya29.SECRET-token-value';
    const error = await fetchError(
      boundedFetch(`${await target()}?access_token=${secret}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}` },
        body: `assertion=${secret}`,
        timeoutMs: 300,
        maxBytes: 1000,
      }),
    );
    expect(inspect(error, { depth: 10 })).not.toContain('SECRET');
    expect(JSON.stringify(error)).not.toContain('SECRET');
  });

  it.each([
    ['a zero timeout', { timeoutMs: 0, maxBytes: 1 }],
    ['a negative maxBytes', { timeoutMs: 1, maxBytes: -1 }],
    ['a fractional maxBytes', { timeoutMs: 1, maxBytes: 1.5 }],
  ])('throws a TypeError for %s', async (_name, options) => {
    await expect(boundedFetch(`${base}/`, options)).rejects.toThrow(TypeError);
  });

  it.each([
    ['a relative URL', '/relative?access_token=SECRET'],
    ['a non-http scheme', 'file:///etc/passwd?SECRET'],
  ])('throws a TypeError without echoing the URL for %s', async (_name, url) => {
    const error = await boundedFetch(url, { timeoutMs: 1000, maxBytes: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect(inspect(error, { depth: 10 })).not.toContain('SECRET');
  });
});

describe("boundedFetch over Node's HTTP client (no fetchImpl)", () => {
  it('reuses one keep-alive connection for requests in sequence', async () => {
    const sockets: unknown[] = [];
    handler = (req, res) => {
      sockets.push(req.socket);
      res.end('ok');
    };
    for (let i = 0; i < 3; i++) {
      const response = await boundedFetch(`${base}/again`, { timeoutMs: 2000, maxBytes: 100 });
      expect(response.text).toBe('ok');
    }
    expect(sockets).toHaveLength(3);
    expect(new Set(sockets).size).toBe(1);
  });

  it.each([
    ['GET', 'sends it once more on a fresh connection', 200],
    ['POST', 'does not send it again (callers retry what is safe)', undefined],
  ] as const)(
    'a %s on a kept-alive connection the server closed: %s',
    async (method, _what, expectedStatus) => {
      const served = new Map<unknown, number>();
      handler = (req, res) => {
        const count = (served.get(req.socket) ?? 0) + 1;
        served.set(req.socket, count);
        if (count === 2)
          req.socket.destroy(); // the server dropped the idle connection
        else res.end('ok');
      };
      const call = () => boundedFetch(`${base}/stale`, { method, timeoutMs: 2000, maxBytes: 100 });
      expect((await call()).status).toBe(200);
      const second = await call().then(
        (r) => r.status,
        (e: unknown) => e,
      );
      if (expectedStatus === undefined) {
        expect(second).toBeInstanceOf(FetchError);
        expect((second as FetchError).kind).toBe('network');
        expect(requests).toHaveLength(2);
      } else {
        expect(second).toBe(expectedStatus);
        expect(requests).toHaveLength(3);
        expect(served.size).toBe(2);
      }
    },
  );

  it('trims header values like fetch, sends a user-agent unless given one, and drops a UTF-8 BOM', async () => {
    handler = (_req, res) => res.end('\uFEFF{"ok":true}');
    const response = await boundedFetch(`${base}/trim`, {
      headers: { Authorization: ' Bearer tok\n' },
      timeoutMs: 2000,
      maxBytes: 100,
    });
    expect(JSON.parse(response.text)).toEqual({ ok: true });
    expect(requests[0].headers.authorization).toBe('Bearer tok');
    expect(requests[0].headers['user-agent']).toBe('token-vending-service');
    await boundedFetch(`${base}/ua`, { headers: { 'user-agent': 'mine/1' }, timeoutMs: 2000, maxBytes: 100 });
    expect(requests[1].headers['user-agent']).toBe('mine/1');
  });

  it.each([
    [
      'a header value with a control character (the header is named, not its value)',
      () => `${base}/bad`,
      { authorization: 'Bearer SECRET\r\nx-injected: 1' },
      'boundedFetch: header "authorization" has an invalid value',
    ],
    [
      'a URL carrying credentials (Node would send them as Basic auth)',
      () => 'http://user:SECRET@127.0.0.1:1/jwks',
      {},
      'boundedFetch: url must not carry credentials',
    ],
  ])(
    'refuses %s as a TypeError without echoing it, sending nothing',
    async (_name, url, headers, message) => {
      const error = await boundedFetch(url(), { headers, timeoutMs: 2000, maxBytes: 100 }).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(TypeError);
      expect((error as TypeError).message).toBe(message);
      expect(inspect(error, { depth: 10 })).not.toContain('SECRET');
      expect(requests).toHaveLength(0);
    },
  );

  it.runIf(nodeHasProxyEnv())(
    'goes through HTTP_PROXY when NODE_USE_ENV_PROXY=1, as Node 24 fetch does (Node ≥ 24.5)',
    async () => {
      const seen: string[] = [];
      const proxy = createServer((req, res) => {
        seen.push(req.url ?? '');
        res.end('via proxy');
      });
      await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
      try {
        const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
        const out = await runBoundedFetch('http://tvs-proxy-test.invalid/doc', {
          NODE_USE_ENV_PROXY: '1',
          HTTP_PROXY: proxyUrl,
          NO_PROXY: '',
        });
        expect(out).toEqual({ status: 200, text: 'via proxy' });
        expect(seen).toEqual(['http://tvs-proxy-test.invalid/doc']);
      } finally {
        proxy.closeAllConnections();
        proxy.close();
      }
    },
  );

  it('reads headers case-insensitively and joins repeated ones like Headers.get', async () => {
    handler = (_req, res) => {
      res.setHeader('Cache-Control', ['max-age=60', 'public']);
      res.end('ok');
    };
    const response = await boundedFetch(`${base}/headers`, { timeoutMs: 2000, maxBytes: 100 });
    expect(response.headers.get('CACHE-CONTROL')).toBe('max-age=60, public');
    expect(response.headers.get('retry-after')).toBeNull();
  });

  it('reports a connection lost in the middle of the body as a network error, not a short body', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('only part of it');
      setImmediate(() => res.destroy());
    };
    const error = await fetchError(boundedFetch(`${base}/cut`, { timeoutMs: 2000, maxBytes: 1000 }));
    expect(error.kind).toBe('network');
  });

  it('stops reading a body sent without Content-Length or chunking once it passes maxBytes', async () => {
    const drip = endlessBody();
    const raw = createTcpServer((socket) => {
      socket.on('error', () => undefined);
      socket.write('HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n'); // body runs until close
      drip.into(socket);
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    try {
      const port = (raw.address() as AddressInfo).port;
      const error = await fetchError(
        boundedFetch(`http://127.0.0.1:${port}/`, { timeoutMs: 5000, maxBytes: 10_000 }),
      );
      expect(error.kind).toBe('too_large');
      expect(drip.wrote()).toBeLessThan(10_000_000);
    } finally {
      raw.close();
    }
  });

  describe('https', () => {
    let tls: ReturnType<typeof createHttpsServer>;
    let tlsPort: number;
    let dir: string;

    beforeAll(async () => {
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const cert = selfSignedCertificatePem({
        privateKey,
        publicKey,
        commonName: 'localhost',
        notBefore: new Date(Date.now() - 60_000),
        notAfter: new Date(Date.now() + 3_600_000),
      });
      dir = mkdtempSync(join(tmpdir(), 'tvs-bounded-fetch-'));
      writeFileSync(join(dir, 'ca.pem'), cert);
      tls = createHttpsServer(
        { key: privateKey.export({ type: 'pkcs8', format: 'pem' }), cert },
        (_req, res) => res.end('over tls'),
      );
      await new Promise<void>((resolve) => tls.listen(0, resolve)); // both families: localhost may be ::1
      tlsPort = (tls.address() as AddressInfo).port;
    });

    afterAll(async () => {
      tls.closeAllConnections();
      await new Promise<void>((resolve) => tls.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    });

    it('refuses a server whose certificate the runtime does not trust (verification stays on)', async () => {
      const error = await fetchError(
        boundedFetch(`https://localhost:${tlsPort}/`, { timeoutMs: 5000, maxBytes: 100 }),
      );
      expect(error.kind).toBe('network');
      expect((error.cause as { code?: string }).code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    });

    it('fetches over TLS from a server the runtime trusts (NODE_EXTRA_CA_CERTS)', async () => {
      const out = await runBoundedFetch(`https://localhost:${tlsPort}/`, {
        NODE_EXTRA_CA_CERTS: join(dir, 'ca.pem'),
      });
      expect(out).toEqual({ status: 200, text: 'over tls' });
    });
  });
});
