/**
 * The whole local stack in one process: the emulator (local Google) and the token function,
 * served by functions-framework's own server, configured exactly as in production except for
 * the endpoints. Used by `npm start`, the integration tests and the benchmarks.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { Writable } from 'node:stream';
import * as functions from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import {
  KMS_ENCRYPTER_DECRYPTER,
  startEmulator,
  type Emulator,
  type EmulatorOptions,
} from '../emulator/index.js';
import { loadTokenServiceConfig } from '../shared/config.js';
import { installBodyParserGuard } from '../shared/http/body-parser-guard.js';
import { MAX_BODY_BYTES } from '../functions/token/http/request-context.js';
import { createTokenFunction, type TokenFunction } from '../functions/token/create-token-function.js';
import {
  createRotateFunction,
  type RotateFunction,
  type RotateFunctionOverrides,
} from '../functions/rotate/create-rotate-function.js';
import { loadRotateConfig } from '../shared/rotate-config.js';

export const DEMO_POLICY_FILE = fileURLToPath(new URL('../emulator/seed/demo-policy.json', import.meta.url));
/** The demo seed's rotation binding (what Terraform renders into `TVS_ROTATION_BINDINGS`). */
export const DEMO_ROTATION_BINDINGS_FILE = fileURLToPath(
  new URL('../emulator/seed/demo-rotation-bindings.json', import.meta.url),
);

export interface LocalStackOptions {
  emulator?: Emulator | EmulatorOptions;
  host?: string;
  /** Token function port; 0 (default) = ephemeral. */
  tokenPort?: number;
  /** Extra/overriding environment for the token function (e.g. TVS_POLICY_FILE); `undefined` removes a variable. */
  env?: Record<string, string | undefined>;
  auditTransport?: Writable;
  opsLogWrite?: (line: string) => void;
  /** How often the token function re-reads SA keys (default 5 min). */
  keyRefreshIntervalMs?: number;
  /** The token function's policy clock (tests of the policy TTL). */
  policyClock?: () => number;
  /** Rotation function (`rotate`) port; 0 (default) = ephemeral. Its event endpoint is always ephemeral. */
  rotatePort?: number;
  /** Extra/overriding environment for the rotation function. */
  rotateEnv?: Record<string, string>;
  /** Clock, crash hook, audit transport of the rotation function (tests). */
  rotate?: RotateFunctionOverrides;
}

export interface LocalStack {
  emulator: Emulator;
  tokenUrl: string;
  token: TokenFunction;
  /** The environment the token function was configured with. */
  env: Record<string, string>;
  /** `rotate` (HTTP): POST `{dryRun?, force?, secrets?}`. */
  rotateUrl: string;
  /** `rotateOnEvent` (CloudEvent): the push endpoint for `emulator.pubsub.subscribe(topic, url)`. */
  rotateEventsUrl: string;
  rotation: RotateFunction;
  /** An `Authorization` header value `rotate` accepts: an ID token of its first configured invoker. */
  rotateAuthorization(): Promise<string>;
  stop(): Promise<void>;
}

let functionCounter = 0;

/** The token function's environment for an emulator and a function URL. */
export function localTokenEnv(emulator: Emulator, tokenUrl: string): Record<string, string> {
  return {
    // Callers may name the service as 127.0.0.1 or localhost.
    TVS_AUDIENCE: [tokenUrl, tokenUrl.replace('//127.0.0.1:', '//localhost:')]
      .filter((v, i, a) => a.indexOf(v) === i)
      .join(','),
    TVS_POLICY_FILE: DEMO_POLICY_FILE,
    TVS_GOOGLE_JWKS_URL: emulator.jwksUrl,
    TVS_GOOGLE_TOKENINFO_URL: emulator.tokeninfoUrl,
    TVS_TOKEN_URI_ALLOWLIST: emulator.tokenUrl,
    TVS_IAM_CREDENTIALS_URL: emulator.httpUrl,
    // The emulated Google STS (downscoping with Credential Access Boundaries).
    TVS_STS_URL: `${emulator.httpUrl}/v1/token`,
    // The token function reads secrets over Secret Manager's REST API (the emulator's HTTP port)
    // with its own identity: ADC, i.e. the emulated metadata server's service account.
    TVS_SECRET_MANAGER_ENDPOINT: emulator.httpUrl,
    GCE_METADATA_HOST: emulator.metadataHost,
    GOOGLE_CLOUD_PROJECT: emulator.projectId,
    // The emulated CI issuers (GitHub Actions, GitLab, Kubernetes), so the recipes in docs/recipes.md run locally.
    TVS_OIDC_ISSUERS: JSON.stringify(emulator.issuers.tokenServiceConfig()),
  };
}

/** The shared cache tier's KMS key and AUTH secret in the emulator (what Terraform creates in production). */
export const LOCAL_SHARED_CACHE = {
  keyRing: 'tvs-shared-cache',
  cryptoKey: 'token-cache',
  authSecretId: 'tvs-shared-cache-auth',
} as const;

/**
 * The token function's shared-cache environment on an emulator, after doing locally what the
 * Terraform module does: a KMS key the function's identity (the metadata server's default
 * account) may encrypt and decrypt with, and the Redis AUTH string in a Secret Manager secret.
 * Idempotent: several token functions on one emulator share the key, the secret and the Redis.
 */
export function localSharedCacheEnv(emulator: Emulator): Record<string, string> {
  const keyName = `projects/${emulator.projectId}/locations/global/keyRings/${LOCAL_SHARED_CACHE.keyRing}/cryptoKeys/${LOCAL_SHARED_CACHE.cryptoKey}`;
  if (!emulator.state.kms.has(keyName)) {
    emulator.state.kms.createKey(keyName);
    const identity = emulator.state.metadata.defaultServiceAccount;
    if (identity) emulator.state.kms.grant(keyName, `serviceAccount:${identity}`, KMS_ENCRYPTER_DECRYPTER);
  }
  const env: Record<string, string> = {
    TVS_SHARED_CACHE_URL: emulator.redis.url,
    TVS_SHARED_CACHE_KMS_KEY: keyName,
    TVS_SHARED_CACHE_KMS_URL: emulator.httpUrl,
  };
  if (emulator.redisPassword !== undefined) {
    const secret = `projects/${emulator.projectId}/secrets/${LOCAL_SHARED_CACHE.authSecretId}`;
    try {
      emulator.state.secrets.getSecret(secret);
    } catch {
      emulator.state.secrets.seedSecret(LOCAL_SHARED_CACHE.authSecretId, {}, [
        Buffer.from(emulator.redisPassword, 'utf8'),
      ]);
    }
    env.TVS_SHARED_CACHE_AUTH_SECRET = `${secret}/versions/latest`;
  }
  return env;
}

/** The user-grant KMS key and client secret in the emulator (what Terraform's user-consent module creates). */
export const LOCAL_USER_GRANTS = {
  keyRing: 'tvs-user-grants',
  cryptoKey: 'user-grants',
  clientSecretId: 'oauth-client-secret',
} as const;

/**
 * The user-grant environment both functions share (issue 19) on an emulator, after doing locally
 * what Terraform does: the grants' KMS key with the metadata server's default account (the
 * functions' identity) as encrypter and decrypter — or encrypter only (`encryptOnlyIdentity`, the
 * consent side's real grant, on a key of its own) — and the OAuth client's secret in Secret Manager.
 * `clientId` defaults to the seed's first OAuth client. Idempotent.
 */
export function localUserGrantsEnv(
  emulator: Emulator,
  clientId?: string,
  options: { encryptOnlyIdentity?: boolean } = {},
): Record<string, string> {
  const client = clientId ? emulator.state.oauthClients.get(clientId) : emulator.state.oauthClients.list()[0];
  if (!client) throw new Error('localUserGrantsEnv: the emulator has no such OAuth client');
  const keyName = `projects/${emulator.projectId}/locations/global/keyRings/${LOCAL_USER_GRANTS.keyRing}/cryptoKeys/${LOCAL_USER_GRANTS.cryptoKey}${options.encryptOnlyIdentity ? '-encrypt-only' : ''}`;
  if (!emulator.state.kms.has(keyName)) {
    emulator.state.kms.createKey(keyName);
    const identity = emulator.state.metadata.defaultServiceAccount;
    if (identity)
      emulator.state.kms.grant(
        keyName,
        `serviceAccount:${identity}`,
        options.encryptOnlyIdentity ? 'roles/cloudkms.cryptoKeyEncrypter' : KMS_ENCRYPTER_DECRYPTER,
      );
  }
  const secretId = clientId
    ? `oauth-client-secret-${client.clientId.split('.')[0].slice(-40)}`
    : LOCAL_USER_GRANTS.clientSecretId;
  const secret = `projects/${emulator.projectId}/secrets/${secretId}`;
  try {
    emulator.state.secrets.getSecret(secret);
  } catch {
    emulator.state.secrets.seedSecret(secretId, {}, [Buffer.from(client.clientSecret, 'utf8')]);
  }
  return {
    TVS_USER_CONSENT_CLIENT_ID: client.clientId,
    TVS_USER_CONSENT_CLIENT_SECRET: `${secret}/versions/latest`,
    TVS_USER_GRANTS_KMS_KEY: keyName,
    TVS_FIRESTORE_URL: emulator.httpUrl,
    TVS_KMS_URL: emulator.httpUrl,
    TVS_GOOGLE_OAUTH_TOKEN_URL: emulator.tokenUrl,
    TVS_GOOGLE_OAUTH_REVOKE_URL: emulator.revokeUrl,
  };
}

/**
 * The rotation function's environment for an emulator and the `rotate` URL (the audience of its
 * callers' ID tokens). Locally the metadata server's default identity stands in for Cloud
 * Scheduler's service account as the one allowed invoker. `bindingsJson` is the rotation binding
 * (default: the demo seed's, `emulator/seed/demo-rotation-bindings.json`).
 */
export function localRotateEnv(
  emulator: Emulator,
  rotateUrl: string,
  bindingsJson: string = readFileSync(DEMO_ROTATION_BINDINGS_FILE, 'utf8'),
): Record<string, string> {
  const invoker =
    emulator.state.metadata.defaultServiceAccount ??
    `rotation-invoker@${emulator.projectId}.iam.gserviceaccount.com`;
  return {
    GOOGLE_CLOUD_PROJECT: emulator.projectId,
    TVS_ROTATION_BINDINGS: JSON.stringify(JSON.parse(bindingsJson)),
    TVS_ROTATE_INVOKERS: invoker,
    TVS_ROTATE_AUDIENCE: [rotateUrl, rotateUrl.replace('//127.0.0.1:', '//localhost:')]
      .filter((v, i, a) => a.indexOf(v) === i)
      .join(','),
    TVS_GOOGLE_JWKS_URL: emulator.jwksUrl,
    TVS_SECRET_MANAGER_ENDPOINT: `http://${emulator.grpcEndpoint}`,
    TVS_IAM_URL: emulator.httpUrl,
    TVS_APIKEYS_URL: emulator.httpUrl,
    TVS_GEMINI_URL: emulator.httpUrl,
    TVS_TOKEN_URI_ALLOWLIST: emulator.tokenUrl,
  };
}

async function listen(server: Server, port: number, host: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return `http://${host.includes(':') ? `[${host}]` : host}:${(server.address() as AddressInfo).port}`;
}

async function close(server: Server): Promise<void> {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections?.();
}

/** Starts (or reuses) an emulator and serves the token function on `tokenPort`, the rotation function on `rotatePort`. */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const ownsEmulator = !(options.emulator && 'stop' in options.emulator);
  const emulator =
    options.emulator && 'stop' in options.emulator
      ? options.emulator
      : await startEmulator(options.emulator ?? {});
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
  // Likewise the rotate URL is the audience its callers' ID tokens carry.
  let rotation: RotateFunction | undefined;
  functions.http(`rotate-${functionCounter}`, (req, res) => {
    if (!rotation) {
      res.status(503).send('starting');
      return;
    }
    return rotation.http(req, res);
  });
  functions.cloudEvent(`rotateOnEvent-${functionCounter}`, async (event: functions.CloudEvent<unknown>) => {
    if (!rotation) throw new Error('starting');
    await rotation.event(event);
  });
  const rotateServer: Server = getTestServer(`rotate-${functionCounter}`);
  const rotateEventServer: Server = getTestServer(`rotateOnEvent-${functionCounter}`);
  try {
    const rotateUrl = await listen(rotateServer, options.rotatePort ?? 0, host);
    const rotateEventsUrl = await listen(rotateEventServer, 0, host);
    const rotateEnv = { ...localRotateEnv(emulator, rotateUrl), ...options.rotateEnv };
    rotation = createRotateFunction(loadRotateConfig(rotateEnv), {
      auditTransport: options.auditTransport,
      opsLogWrite: options.opsLogWrite,
      ...options.rotate,
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.tokenPort ?? 0, host, () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    const tokenUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    const env: Record<string, string> = localTokenEnv(emulator, tokenUrl);
    for (const [name, value] of Object.entries(options.env ?? {})) {
      if (value === undefined) delete env[name];
      else env[name] = value;
    }
    // In process, ADC reads the process environment: the token env's metadata server (this
    // emulator's, whose tokens its APIs accept, unless `options.env` says otherwise).
    if (env.GCE_METADATA_HOST) process.env.GCE_METADATA_HOST = env.GCE_METADATA_HOST;
    const token = await createTokenFunction(loadTokenServiceConfig(env), {
      auditTransport: options.auditTransport,
      opsLogWrite: options.opsLogWrite,
      ...(options.policyClock ? { policyClock: options.policyClock } : {}),
      ...(options.keyRefreshIntervalMs !== undefined
        ? { keyRefreshIntervalMs: options.keyRefreshIntervalMs }
        : {}),
    });
    handler = token.handler;
    return {
      emulator,
      tokenUrl,
      token,
      env,
      rotateUrl,
      rotateEventsUrl,
      rotation,
      async rotateAuthorization() {
        const email = rotateEnv.TVS_ROTATE_INVOKERS.split(',')[0];
        const subject = emulator.state.serviceAccounts.get(email) ?? {
          email,
          uniqueId: '100000000000000000001',
        };
        return `Bearer ${await emulator.state.signingKeys.signIdToken({ audience: rotateUrl, subject, includeEmail: true })}`;
      },
      async stop() {
        await Promise.all([close(server), close(rotateServer), close(rotateEventServer)]);
        await token.sharedTier?.close();
        if (ownsEmulator) await emulator.stop();
      },
    };
  } catch (err) {
    server.close();
    rotateServer.close();
    rotateEventServer.close();
    if (ownsEmulator) await emulator.stop();
    throw err;
  }
}
