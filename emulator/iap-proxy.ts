/**
 * The emulated Identity-Aware Proxy in front of one app (the consent function): every request is
 * forwarded to `target` with the client's own `x-goog-iap-*` and `x-goog-authenticated-user-*`
 * headers removed (IAP strips client-sent `x-goog-*` headers, cloud.google.com/iap/docs/signed-headers-howto)
 * and, for the user signed in through `POST /__admin/iap/login`, a freshly signed
 * `x-goog-iap-jwt-assertion` plus IAP's unsigned `x-goog-authenticated-user-email` / `-id`
 * (`accounts.google.com:…`). With nobody signed in it answers 401 itself, where Google would send
 * the browser to its sign-in page. Not Google's wire, only its effect: the emulator's own.
 */
import { request as httpRequest, createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { EmulatorState } from './state/emulator-state.js';

export interface IapProxyOptions {
  state: EmulatorState;
  /** The app behind IAP, e.g. `http://127.0.0.1:8090`. */
  target: string;
  /** `aud` of the assertions: what the app is configured with (`TVS_IAP_AUDIENCE`). */
  audience: string;
  host?: string;
  /** 0 (default): ephemeral. */
  port?: number;
}

export interface IapProxy {
  /** Where browsers go, e.g. `http://127.0.0.1:43125`. */
  url: string;
  stop(): Promise<void>;
}

/** Headers of the client that IAP never lets through. */
const STRIPPED = /^x-goog-(iap-|authenticated-user-)/i;
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

export async function startIapProxy(options: IapProxyOptions): Promise<IapProxy> {
  const target = new URL(options.target);
  const { state } = options;
  const server: Server = createServer((req, res) => {
    void forward(req).then(
      (headers) => {
        if (!headers) {
          const text =
            'IAP (emulated): nobody is signed in. POST /__admin/iap/login {"user": "ada@example.com"} on the emulator.\n';
          res.writeHead(401, {
            'content-type': 'text/plain; charset=utf-8',
            'content-length': Buffer.byteLength(text),
          });
          res.end(text);
          return;
        }
        const upstream = httpRequest(
          { host: target.hostname, port: target.port, method: req.method, path: req.url, headers },
          (answer) => {
            const out: Record<string, string | string[]> = {};
            for (const [name, value] of Object.entries(answer.headers))
              if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
            res.writeHead(answer.statusCode ?? 502, out);
            answer.pipe(res);
          },
        );
        upstream.on('error', () => {
          if (res.headersSent) return void res.destroy();
          res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8' });
          res.end('IAP (emulated): the app did not answer.\n');
        });
        req.pipe(upstream);
      },
      () => {
        res.writeHead(500);
        res.end();
      },
    );
  });

  /** The headers to send upstream, or undefined when nobody is signed in. */
  async function forward(req: IncomingMessage): Promise<Record<string, string | string[]> | undefined> {
    const user = state.iap.signedIn === undefined ? undefined : state.oauthUsers.find(state.iap.signedIn);
    if (!user) return undefined;
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers))
      if (value !== undefined && !STRIPPED.test(name) && !HOP_BY_HOP.has(name)) headers[name] = value;
    headers['x-goog-iap-jwt-assertion'] = await state.iap.sign({ audience: options.audience, user });
    headers['x-goog-authenticated-user-email'] = `accounts.google.com:${user.email}`;
    headers['x-goog-authenticated-user-id'] = `accounts.google.com:${user.sub}`;
    const forwardedFor = req.socket.remoteAddress ?? '';
    headers['x-forwarded-for'] = forwardedFor;
    headers['x-forwarded-proto'] = 'http';
    return headers;
  }

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
