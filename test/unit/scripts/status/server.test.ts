/** The status server's own guards: loopback names only (DNS rebinding), GET/HEAD only, its CSP on every answer. */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StatusAggregator } from '../../../../scripts/status/aggregator.js';
import { STATUS_CSP, startStatusServer, type StatusServer } from '../../../../scripts/status/server.js';

let server: StatusServer;
beforeAll(async () => {
  server = await startStatusServer({ aggregator: new StatusAggregator() });
});
afterAll(async () => {
  await server?.stop();
});

function send(
  path: string,
  host: string,
  method = 'GET',
): Promise<{ status: number; csp: unknown; body: string }> {
  const url = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method, headers: { host } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, csp: res.headers['content-security-policy'], body }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('status server', () => {
  it('answers loopback host names, with its CSP', async () => {
    const port = new URL(server.url).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`]) {
      const res = await send('/status.json', host);
      expect(res.status).toBe(200);
      expect(res.csp).toBe(STATUS_CSP);
      expect(JSON.parse(res.body).cache).toEqual({ hits: 0, misses: 0, ratio: null });
    }
    expect((await send('/status', `localhost:${port}`)).body).toContain('<script src="/status.js"');
  });

  it('refuses any other Host (a rebound DNS name), other methods and other paths', async () => {
    expect((await send('/status.json', 'attacker.example:80')).status).toBe(421);
    expect((await send('/status.json', '127.0.0.1.attacker.example')).status).toBe(421);
    expect((await send('/status.json', 'localhost', 'POST')).status).toBe(405);
    expect((await send('/../package.json', 'localhost')).status).toBe(404);
  });
});
