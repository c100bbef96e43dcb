/**
 * The in-process minters the mint-path figure compares, all against the same emulator token
 * endpoint: our minter (key loaded once from Secret Manager, jose signing, exchange, cache,
 * coalescing, retry), google-auth-library's `JWT` client forced to refresh on every call, and the
 * bare exchange (a pre-signed assertion POSTed by our exchange code: no signing, no plumbing).
 */
import { JWT } from 'google-auth-library';
import { importPKCS8, SignJWT } from 'jose';
import { createSecretAccessor } from '../../shared/gcp/secret-manager.js';
import { ServiceAccountKeyStore } from '../../shared/minting/key-store.js';
import { createMinter, type TargetServiceAccount } from '../../shared/minting/minter.js';
import { GOOGLE_DEFAULTS } from '../../shared/config.js';
import { exchangeAssertion } from '../../shared/minting/token-exchange.js';
import type { EmulatorHandle } from './emulator-handle.js';
import { CLOUD_PLATFORM, TARGET_KEY_SECRET, TARGET_SA } from './emulator-protocol.js';

/** One mint; `worker` is the closed-loop worker's index (peers keep one client per worker). */
export type MintOnce = (n: number, worker: number) => Promise<void>;

interface KeyFile {
  client_email: string;
  private_key: string;
  private_key_id: string;
}

/** The target SA's key file, read from the emulator's Secret Manager like the key store does. */
export async function readKeyFile(emulator: EmulatorHandle): Promise<KeyFile> {
  const payload = await createSecretAccessor(`http://${emulator.grpcEndpoint}`).access(TARGET_KEY_SECRET);
  return JSON.parse(payload.data.toString('utf8')) as KeyFile;
}

/** Our minter with production defaults; each call asks for a distinct scope, i.e. a cache miss. */
export async function ourMinter(emulator: EmulatorHandle, scopePrefix: string): Promise<MintOnce> {
  const keys = new ServiceAccountKeyStore({
    secrets: createSecretAccessor(`http://${emulator.grpcEndpoint}`),
    tokenUriAllowlist: [emulator.tokenUrl],
    timeoutMs: 10_000,
  });
  const minter = createMinter({
    keys,
    cache: { maxEntries: 10_000, refreshAheadMs: 300_000, minRemainingMs: 60_000 },
    upstream: { deadlineMs: 10_000, maxAttempts: 4 },
  });
  const sa: TargetServiceAccount = { email: TARGET_SA, backend: 'key', keySecret: TARGET_KEY_SECRET };
  await minter.accessToken(sa, [CLOUD_PLATFORM]); // key load happens once, before measuring
  let calls = 0;
  return async () => {
    const result = await minter.accessToken(sa, [`${scopePrefix}${calls++}`]);
    if (result.cacheHit) throw new Error('mint-path: expected a cache miss');
  };
}

/**
 * google-auth-library's `JWT` client whose every `getAccessToken()` refreshes (the eager-refresh
 * threshold exceeds a token's life), redirected from Google's hard-coded token URL to the emulator.
 * One client per worker: a shared client would coalesce concurrent refreshes into one.
 */
export function peerJwtClients(emulator: EmulatorHandle, key: KeyFile, workers: number): MintOnce {
  const clients = Array.from({ length: workers }, () => {
    const client = new JWT({
      email: key.client_email,
      key: key.private_key,
      scopes: [CLOUD_PLATFORM],
      eagerRefreshThresholdMillis: 2 * 3_600_000,
    });
    client.transporter.interceptors.request.add({
      resolved: (config) => {
        if (config.url.href === GOOGLE_DEFAULTS.tokenUri) config.url = new URL(emulator.tokenUrl);
        return Promise.resolve(config);
      },
    });
    return client;
  });
  return async (_n, worker) => {
    const { token } = await clients[worker].getAccessToken();
    if (!token) throw new Error('mint-path: JWT client returned no token');
  };
}

/**
 * The bare exchange: pre-signed assertions (signed before measuring, cycled) POSTed through the
 * same HTTP code our minter uses (`exchangeAssertion`), so the difference is signing and plumbing.
 */
export async function bareExchange(emulator: EmulatorHandle, key: KeyFile, count = 64): Promise<MintOnce> {
  const privateKey = await importPKCS8(key.private_key, 'RS256');
  const now = Math.floor(Date.now() / 1000);
  const assertions = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      new SignJWT({ scope: `https://www.googleapis.com/auth/bench-bare-${i}` })
        .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: key.private_key_id })
        .setIssuer(key.client_email)
        .setAudience(emulator.tokenUrl)
        .setIssuedAt(now)
        .setExpirationTime(now + 3600)
        .sign(privateKey),
    ),
  );
  return async (n) => {
    await exchangeAssertion(emulator.tokenUrl, assertions[n % assertions.length], { timeoutMs: 10_000 });
  };
}
