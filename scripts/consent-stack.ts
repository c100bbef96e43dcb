/**
 * The consent function on the local stack, behind the emulated IAP: the function is served by
 * functions-framework on an ephemeral port, the IAP proxy (emulator/iap-proxy.ts) on `port` is what
 * browsers open. Done locally what Terraform and the OAuth client registration do in production:
 * an OAuth client whose redirect URI is the proxy's callback (the seeded demo client when it
 * lists it, else a new one), its secret in Secret Manager, and the user-grants KMS key with the
 * metadata identity as encrypter (decrypter too, since locally the token function runs as the
 * same identity; the consent side's zero decrypts are counted by the tests).
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import * as functions from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { startIapProxy, type Emulator, type IapProxy } from '../emulator/index.js';
import { installBodyParserGuard } from '../shared/http/body-parser-guard.js';
import { localUserGrantsEnv } from './local-stack.js';
import { loadConsentConfig } from '../functions/consent/consent-config.js';
import {
  createConsentFunction,
  type ConsentFunction,
  type ConsentFunctionOverrides,
} from '../functions/consent/create-consent-function.js';

/** The scopes the local consent side offers (the emulator knows them all). */
export const LOCAL_CONSENT_SCOPES = [
  'https://www.googleapis.com/auth/drive.readonly',
  'https://www.googleapis.com/auth/generative-language.retriever',
];

export interface ConsentStackOptions {
  emulator: Emulator;
  host?: string;
  /** The IAP proxy's (browser-facing) port; 0 (default) = ephemeral. */
  port?: number;
  /** Where `revokeGrant` goes (the token function). */
  tokenFunctionUrl: string;
  /** Extra/overriding environment; `undefined` removes a variable. */
  env?: Record<string, string | undefined>;
  overrides?: ConsentFunctionOverrides;
  /** Grant the metadata identity only useToEncrypt on the grants key (default false: encrypt and decrypt). */
  encryptOnlyIdentity?: boolean;
}

export interface ConsentStack {
  /** The IAP proxy: what a browser opens (`${url}/v1/consent`). */
  url: string;
  /** The function itself, without IAP (attack tests present their own assertions here). */
  functionUrl: string;
  env: Record<string, string>;
  clientId: string;
  clientSecret: string;
  kmsKey: string;
  consent: ConsentFunction;
  proxy: IapProxy;
  stop(): Promise<void>;
}

let counter = 0;

async function listen(server: Server, port: number, host: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return `http://${host.includes(':') ? `[${host}]` : host}:${(server.address() as AddressInfo).port}`;
}

/**
 * The OAuth client of a consent side served at `publicUrl`: the emulator's client whose redirect
 * URI is its callback (the demo seed's for `npm start`'s default port), else a new one. The token
 * function must vend for the same client, so `npm start` asks before starting either.
 */
export function localConsentClient(
  emulator: Emulator,
  publicUrl: string,
): { clientId: string; clientSecret: string } {
  const redirectUri = `${publicUrl}/v1/consent/callback`;
  return (
    emulator.state.oauthClients.list().find((c) => c.redirectUris.includes(redirectUri)) ??
    emulator.state.oauthClients.create({
      redirectUris: [redirectUri],
      displayName: `Local consent ${++counter}`,
    })
  );
}

/**
 * Does locally what Terraform and the OAuth client registration do, for a consent side served at
 * `publicUrl` (its IAP's address): the OAuth client (the seeded one when it lists the callback,
 * else a new one), its secret in Secret Manager, the grants KMS key with the metadata identity's
 * grant; returns the function's environment.
 */
export function localConsentEnv(
  emulator: Emulator,
  options: { publicUrl: string; audience: string; tokenFunctionUrl: string; encryptOnlyIdentity?: boolean },
): { env: Record<string, string>; client: { clientId: string; clientSecret: string }; kmsKey: string } {
  const redirectUri = `${options.publicUrl}/v1/consent/callback`;
  const client = localConsentClient(emulator, options.publicUrl);
  const grants = localUserGrantsEnv(emulator, client.clientId, {
    ...(options.encryptOnlyIdentity ? { encryptOnlyIdentity: true } : {}),
  });
  const kmsKey = grants.TVS_USER_GRANTS_KMS_KEY;
  const env: Record<string, string> = {
    GOOGLE_CLOUD_PROJECT: emulator.projectId,
    GCE_METADATA_HOST: emulator.metadataHost,
    TVS_SECRET_MANAGER_ENDPOINT: emulator.httpUrl,
    ...grants,
    TVS_CONSENT_AUTH_URL: emulator.authUrl,
    TVS_CONSENT_REDIRECT_URI: redirectUri,
    TVS_CONSENT_RETURN_TO_ORIGINS: '',
    TVS_CONSENT_SCOPES: LOCAL_CONSENT_SCOPES.join(' '),
    TVS_IAP_AUDIENCE: options.audience,
    TVS_IAP_JWKS_URL: emulator.iapJwksUrl,
    TVS_GOOGLE_JWKS_URL: emulator.jwksUrl,
    TVS_TOKEN_FUNCTION_URL: options.tokenFunctionUrl,
  };
  return { env, client, kmsKey };
}

export async function startConsentStack(options: ConsentStackOptions): Promise<ConsentStack> {
  const { emulator } = options;
  const { state } = emulator;
  const host = options.host ?? '127.0.0.1';
  const n = ++counter;
  installBodyParserGuard(64 * 1024);
  let handler: ConsentFunction['handler'] | undefined;
  functions.http(`consent-${n}`, (req, res) => {
    if (!handler) return void res.status(503).send('starting');
    return handler(req, res);
  });
  const server: Server = getTestServer(`consent-${n}`);
  const functionUrl = await listen(server, 0, host);
  const audience = `/projects/${emulator.projectNumber}/global/backendServices/${4200 + n}`;
  let proxy: IapProxy | undefined;
  try {
    proxy = await startIapProxy({ state, target: functionUrl, audience, host, port: options.port ?? 0 });
    const { env, client, kmsKey } = localConsentEnv(emulator, {
      publicUrl: proxy.url,
      audience,
      tokenFunctionUrl: options.tokenFunctionUrl,
      encryptOnlyIdentity: options.encryptOnlyIdentity ?? false,
    });
    for (const [name, value] of Object.entries(options.env ?? {})) {
      if (value === undefined) delete env[name];
      else env[name] = value;
    }
    // In process, ADC reads the process environment.
    process.env.GCE_METADATA_HOST = env.GCE_METADATA_HOST;
    const consent = await createConsentFunction(loadConsentConfig(env), options.overrides);
    handler = consent.handler;
    const iap = proxy;
    return {
      url: proxy.url,
      functionUrl,
      env,
      clientId: client.clientId,
      clientSecret: client.clientSecret,
      kmsKey,
      consent,
      proxy,
      async stop() {
        await iap.stop();
        server.closeAllConnections?.();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
  } catch (err) {
    await proxy?.stop();
    server.close();
    throw err;
  }
}
