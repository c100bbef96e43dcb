/**
 * The Gemini API key a workload should use right now: read from Secret Manager at the version
 * the rotation function promotes (alias `current`), kept in memory, re-read in the background
 * after `ttlMs`, and re-read at once when {@link GeminiApiKeySource.invalidate} is called (what
 * `withApiKey` does when Gemini refuses a key). Reads are coalesced and retried.
 */
import { createSecretAccessor, type SecretAccessor } from '../shared/gcp/secret-manager.js';
import { SingleFlight } from '../shared/http/singleflight.js';
import { parseJsonObject } from '../shared/json.js';
import { clientError } from './friendly-error.js';
import { retryTransient, type ClientRetryOptions } from './retry.js';
import { assertSecureTransport } from './transport-security.js';

export interface GeminiApiKeySourceOptions {
  /** e.g. `projects/my-proj/secrets/gemini-api-key/versions/current` (see {@link apiKeySecretVersion}). */
  secretVersion: string;
  /** Secret Manager endpoint (default `https://secretmanager.googleapis.com`; `http://127.0.0.1:PORT` for the emulator; plain http only to a loopback host). */
  secretManagerEndpoint?: string;
  /** A ready accessor instead of an endpoint (tests, custom clients). */
  accessor?: SecretAccessor;
  /** Re-read the secret in the background after this long (default 5 min; 0 = only on invalidate). */
  ttlMs?: number;
  retry?: ClientRetryOptions;
  now?: () => number;
}

/** `projects/{project}/secrets/{secret}/versions/{version}` (version default: the `current` alias). */
export function apiKeySecretVersion(project: string, secret: string, version = 'current'): string {
  return `projects/${project}/secrets/${secret}/versions/${version}`;
}

interface CachedKey {
  key: string;
  /** The resolved version name, e.g. `projects/123/secrets/s/versions/4`. */
  version: string;
  readAtMs: number;
}

const DEFAULT_TTL_MS = 5 * 60_000;

/** See the module comment. */
export class GeminiApiKeySource {
  readonly secretVersion: string;
  readonly #accessor: SecretAccessor;
  readonly #ttlMs: number;
  readonly #retry: ClientRetryOptions | undefined;
  readonly #now: () => number;
  readonly #flight = new SingleFlight<'key', CachedKey>();
  #cached: CachedKey | undefined;

  constructor(options: GeminiApiKeySourceOptions) {
    if (
      typeof options?.secretVersion !== 'string' ||
      !/^projects\/[^/]+\/secrets\/[^/]+\/versions\/[^/]+$/.test(options.secretVersion)
    ) {
      throw new TypeError('GeminiApiKeySource: secretVersion must be projects/{p}/secrets/{s}/versions/{v}');
    }
    if (options.ttlMs !== undefined && !(options.ttlMs >= 0))
      throw new TypeError('GeminiApiKeySource: ttlMs must be >= 0');
    if (options.secretManagerEndpoint !== undefined)
      assertSecureTransport(
        endpointUrl(options.secretManagerEndpoint),
        'GeminiApiKeySource: secretManagerEndpoint',
      );
    this.secretVersion = options.secretVersion;
    this.#accessor =
      options.accessor ??
      createSecretAccessor(options.secretManagerEndpoint ?? 'https://secretmanager.googleapis.com');
    this.#ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
    this.#retry = options.retry;
    this.#now = options.now ?? Date.now;
  }

  /** The current key. Served from memory; a stale one is served while it is re-read in the background. */
  async getKey(): Promise<string> {
    const cached = this.#cached;
    if (cached === undefined) return (await this.#read()).key;
    if (this.#ttlMs > 0 && this.#now() - cached.readAtMs >= this.#ttlMs) {
      // A failed background read keeps the key we have; the next call tries again.
      this.#read().catch(() => undefined);
    }
    return cached.key;
  }

  /** Forgets the cached key; the next {@link getKey} reads the secret again. */
  invalidate(): void {
    this.#cached = undefined;
    this.#flight.forget('key');
  }

  /** Reads the secret now (coalesced with any read in flight) and returns the key. */
  async refresh(): Promise<string> {
    return (await this.#read()).key;
  }

  /** The resolved secret version of the cached key (never the key itself), for logs. */
  get currentVersion(): string | undefined {
    return this.#cached?.version;
  }

  #read(): Promise<CachedKey> {
    return this.#flight.do('key', async () => {
      const payload = await retryTransient(
        'secret-manager',
        () => this.#accessor.access(this.secretVersion),
        this.#retry,
      );
      const key = parseKey(payload.data);
      const fresh = { key, version: payload.name, readAtMs: this.#now() };
      this.#cached = fresh;
      return fresh;
    });
  }
}

/** The payload is the key string itself, or a JSON object with `keyString` (as API Keys' getKeyString answers). */
function parseKey(data: Buffer): string {
  const text = data.toString('utf8').trim();
  let key = text;
  if (text.startsWith('{')) {
    const keyString = parseJsonObject(text)?.keyString;
    key = typeof keyString === 'string' ? keyString.trim() : '';
  }
  if (!/^[\x21-\x7e]{1,512}$/.test(key)) {
    throw clientError({
      service: 'secret-manager',
      code: 'FAILED_PRECONDITION',
      reason: 'API_KEY_SECRET_MALFORMED',
      serverMessage: 'the secret does not hold an API key',
    });
  }
  return key;
}

function endpointUrl(endpoint: string): URL {
  try {
    return new URL(endpoint);
  } catch {
    throw new TypeError('GeminiApiKeySource: secretManagerEndpoint must be an absolute URL');
  }
}
