/**
 * The whole local stack in one process: the emulator (local Google) and the token function,
 * served by functions-framework's own server, configured exactly as in production except for
 * the endpoints. Used by `npm start`, the integration tests and the benchmarks.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { Writable } from 'node:stream';
import * as functions from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { startEmulator, type Emulator, type EmulatorOptions } from '../emulator/index.js';
import { loadTokenServiceConfig } from '../shared/config.js';
import { installBodyParserGuard } from '../functions/token/http/body-parser-guard.js';
import { MAX_BODY_BYTES } from '../functions/token/http/request-context.js';
import { createTokenFunction, type TokenFunction } from '../functions/token/create-token-function.js';

export const DEMO_POLICY_FILE = fileURLToPath(new URL('../emulator/seed/demo-policy.json', import.meta.url));

export interface LocalStackOptions {
  emulator?: Emulator | EmulatorOptions;
  host?: string;
  /** Token function port; 0 (default) = ephemeral. */
  tokenPort?: number;
  /** Extra/overriding environment for the token function (e.g. TVS_POLICY_FILE). */
  env?: Record<string, string>;
  auditTransport?: Writable;
  opsLogWrite?: (line: string) => void;
}

export interface LocalStack {
  emulator: Emulator;
  tokenUrl: string;
  token: TokenFunction;
  /** The environment the token function was configured with. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

let functionCounter = 0;

/** The token function's environment for an emulator and a function URL. */
export function localTokenEnv(emulator: Emulator, tokenUrl: string): Record<string, string> {
  return {
    // Callers may name the service as 127.0.0.1 or localhost.
    TVS_AUDIENCE: [tokenUrl, tokenUrl.replace('//127.0.0.1:', '//localhost:')].filter((v, i, a) => a.indexOf(v) === i).join(','),
    TVS_POLICY_FILE: DEMO_POLICY_FILE,
    TVS_GOOGLE_JWKS_URL: emulator.jwksUrl,
    TVS_GOOGLE_TOKENINFO_URL: emulator.tokeninfoUrl,
    TVS_TOKEN_URI_ALLOWLIST: emulator.tokenUrl,
    TVS_IAM_CREDENTIALS_URL: emulator.httpUrl,
    TVS_SECRET_MANAGER_ENDPOINT: `http://${emulator.grpcEndpoint}`,
    GOOGLE_CLOUD_PROJECT: emulator.projectId,
  };
}

/** Starts (or reuses) an emulator and serves the token function on `tokenPort`. */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const ownsEmulator = !(options.emulator && 'stop' in options.emulator);
  const emulator = options.emulator && 'stop' in options.emulator ? options.emulator : await startEmulator(options.emulator ?? {});
  const host = options.host ?? '127.0.0.1';
  installBodyParserGuard(MAX_BODY_BYTES);

  // The function URL (its audience) must be known before configuration: bind first, then wire.
  let handler: TokenFunction['handler'] | undefined;
  const name = `token-${++functionCounter}`;
  functions.http(name, (req, res) => {
    if (!handler) {
      res.status(503).send('starting');
      return;
    }
    return handler(req, res);
  });
  const server: Server = getTestServer(name);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.tokenPort ?? 0, host, () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    const tokenUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    const env = { ...localTokenEnv(emulator, tokenUrl), ...options.env };
    const token = await createTokenFunction(loadTokenServiceConfig(env), { auditTransport: options.auditTransport, opsLogWrite: options.opsLogWrite });
    handler = token.handler;
    return {
      emulator,
      tokenUrl,
      token,
      env,
      async stop() {
        await new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections?.();
        if (ownsEmulator) await emulator.stop();
      },
    };
  } catch (err) {
    server.close();
    if (ownsEmulator) await emulator.stop();
    throw err;
  }
}
