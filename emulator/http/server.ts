import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A listening HTTP server whose request handling is attached after it knows its own URL. */
export interface HttpServerHandle {
  readonly server: Server;
  readonly port: number;
  /** Base URL clients use, e.g. `http://127.0.0.1:43121`. */
  readonly url: string;
  /** Attaches the request listener (once the URLs it needs are known). */
  attach(listener: (req: IncomingMessage, res: ServerResponse) => void): void;
  stop(): Promise<void>;
}

/** Starts listening on `host:port` (0 = ephemeral). Requests wait in the queue until `attach`. */
export async function listenHttp(host: string, port: number): Promise<HttpServerHandle> {
  const server = createServer();
  // Clients (undici, gaxios) keep connections alive; tests must not wait for them on stop.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const actualPort = (server.address() as AddressInfo).port;
  let stopped: Promise<void> | undefined;
  return {
    server,
    port: actualPort,
    url: `http://${urlHost(host)}:${actualPort}`,
    attach(listener) {
      server.on('request', listener);
    },
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}

/** Host part of a URL for a listen address: wildcards become loopback, IPv6 gets brackets. */
export function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}
