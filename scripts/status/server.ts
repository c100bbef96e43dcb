/**
 * The local status page (`npm start`): `GET /status` (HTML), `/status.js`, `/status.css` (static
 * files next to this module, no build step) and `GET /status.json` (what the page polls). Loopback
 * only. Rotation state comes from the `rotation_health` ops lines when the rotator has written any;
 * otherwise (and for secrets no line has named yet) from `rotationState`, the state the rotator
 * keeps in the secrets' annotations.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { SecretHealth, StatusAggregator } from './aggregator.js';

const file = (name: string) => readFileSync(fileURLToPath(new URL(name, import.meta.url)));
const STATIC: Record<string, { type: string; body: Buffer }> = {
  '/status': { type: 'text/html; charset=utf-8', body: file('./status.html') },
  '/status.js': { type: 'text/javascript; charset=utf-8', body: file('./status.js') },
  '/status.css': { type: 'text/css; charset=utf-8', body: file('./status.css') },
};
/** Only what the page needs: its own script, stylesheet and JSON. */
export const STATUS_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export interface StatusServerOptions {
  aggregator: StatusAggregator;
  /** Managed secrets' rotation state as the rotator keeps it (fallback when no rotation_health line names one). */
  rotationState?: () => SecretHealth[];
  port?: number;
  host?: '127.0.0.1' | '::1' | 'localhost';
}

export interface StatusServer {
  url: string;
  stop(): Promise<void>;
}

export async function startStatusServer(options: StatusServerOptions): Promise<StatusServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    res.setHeader('Content-Security-Policy', STATUS_CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cache-Control', 'no-store');
    // DNS rebinding: a web page whose name resolves to 127.0.0.1 would send its own Host; answer loopback names only.
    if (!/^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/i.test(req.headers.host ?? '')) {
      res.writeHead(421, { 'Content-Type': 'text/plain' }).end('misdirected request');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/status.json') {
      const snap = options.aggregator.snapshot();
      const seen = new Set(snap.rotationHealth.map((h) => h.secret));
      const fallback = (options.rotationState?.() ?? []).filter((s) => !seen.has(s.secret));
      const body = JSON.stringify({
        ...snap,
        rotation: [
          ...snap.rotationHealth.map((h) => ({ ...h, source: 'rotation_health' })),
          ...fallback.map((h) => ({ ...h, source: 'state' })),
        ].sort((a, b) => a.secret.localeCompare(b.secret)),
        rotationHealth: undefined,
        nowMs: Date.now(),
      });
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(body);
      return;
    }
    const asset = STATIC[path];
    if (!asset) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'Content-Type': asset.type }).end(asset.body);
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host === '::1' ? '[::1]' : host}:${port}/status`,
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
    },
  };
}
