/**
 * Service-account keys held in Secret Manager, loaded once, validated, kept in memory and
 * re-read in the background every `refreshIntervalMs` (so a rotated key is picked up without a
 * restart), or at once when the token endpoint refused the key we hold (`invalid_grant`).
 */
import { InternalError, TvsError } from '../errors.js';
import type { SecretAccessor } from '../gcp/secret-access.js';
import { serviceAccountKeySchema } from './sa-key.js';
import { toSigningKey, type SigningKey } from './sign-assertion.js';
import { SingleFlight } from '../http/singleflight.js';

export interface KeyStoreOptions {
  secrets: SecretAccessor;
  /** Exact token URIs a key file may name; anything else is refused (no exchange with strangers). */
  tokenUriAllowlist: readonly string[];
  /** How old a loaded key may get before a background re-read; default 5 min. */
  refreshIntervalMs?: number;
  timeoutMs?: number;
  now?: () => number;
  onBackgroundError?: (err: unknown, secret: string) => void;
}

export interface LoadedKey extends SigningKey {
  /** The resolved secret version the key came from. */
  versionName: string;
}

interface Entry {
  key: LoadedKey;
  loadedAtMs: number;
}

export class ServiceAccountKeyStore {
  private readonly entries = new Map<string, Entry>();
  private readonly flights = new SingleFlight<string, LoadedKey>();
  private readonly refreshIntervalMs: number;
  private readonly now: () => number;

  constructor(private readonly options: KeyStoreOptions) {
    this.refreshIntervalMs = options.refreshIntervalMs ?? 5 * 60_000;
    this.now = options.now ?? Date.now;
  }

  /**
   * The key for `email` from `secretVersion`; one Secret Manager read however many callers wait.
   * Entries are keyed by (secret, email): a secret holding another SA's key is refused for every
   * request, never served from a cache filled for the right SA.
   */
  async get(secretVersion: string, email: string): Promise<LoadedKey> {
    const entry = this.entries.get(entryKey(secretVersion, email));
    if (entry) {
      if (this.now() - entry.loadedAtMs > this.refreshIntervalMs) {
        this.load(secretVersion, email).catch((err: unknown) =>
          this.options.onBackgroundError?.(err, secretVersion),
        );
      }
      return entry.key;
    }
    return this.load(secretVersion, email);
  }

  /**
   * Re-reads the secret because the token endpoint refused `staleKeyId`. Concurrent callers with
   * the same stale key share one read; a caller whose stale key was already replaced gets the new one.
   */
  async reload(secretVersion: string, email: string, staleKeyId: string): Promise<LoadedKey> {
    const entry = this.entries.get(entryKey(secretVersion, email));
    if (entry && entry.key.keyId !== staleKeyId) return entry.key;
    return this.load(secretVersion, email);
  }

  private load(secretVersion: string, email: string): Promise<LoadedKey> {
    const key = entryKey(secretVersion, email);
    return this.flights
      .do(key, async () => {
        // One attempt per load: the minter's deadline-aware retry decides whether to try again.
        const payload = await this.options.secrets.access(secretVersion, {
          timeoutMs: this.options.timeoutMs,
          retry: false,
        });
        const signingKey = await this.parse(payload.data, secretVersion, email);
        const loaded: LoadedKey = { ...signingKey, versionName: payload.name };
        this.entries.set(key, { key: loaded, loadedAtMs: this.now() });
        return loaded;
      })
      .catch((err: unknown) => {
        if (err instanceof TvsError && err.code === 'UNAVAILABLE') throw err;
        if (err instanceof InternalError) throw err;
        throw new InternalError('The service account key could not be loaded.', {
          reason: 'KEY_UNAVAILABLE',
          detail: `loading ${secretVersion}: ${err instanceof TvsError ? `${err.reason} ${err.detail ?? ''}` : 'unexpected error'}`,
          cause: err,
        });
      });
  }

  private async parse(data: Buffer, secretVersion: string, email: string): Promise<SigningKey> {
    let json: unknown;
    try {
      json = JSON.parse(data.toString('utf8'));
    } catch {
      throw invalid(secretVersion, 'payload is not JSON');
    }
    const parsed = serviceAccountKeySchema.safeParse(json);
    // Only field paths and issue codes are logged: values may be key material.
    if (!parsed.success)
      throw invalid(
        secretVersion,
        parsed.error.issues.map((i) => `${i.path.join('.')}:${i.code}`).join(', '),
      );
    if (parsed.data.client_email.toLowerCase() !== email.toLowerCase())
      throw invalid(secretVersion, `key belongs to ${parsed.data.client_email}, policy expects ${email}`);
    if (!this.options.tokenUriAllowlist.includes(parsed.data.token_uri))
      throw invalid(secretVersion, `token_uri ${parsed.data.token_uri} is not in TVS_TOKEN_URI_ALLOWLIST`);
    try {
      return await toSigningKey(parsed.data);
    } catch {
      throw invalid(secretVersion, 'private_key does not import as an RSA PKCS#8 key');
    }
  }
}

function entryKey(secretVersion: string, email: string): string {
  return `${secretVersion}|${email.toLowerCase()}`;
}

function invalid(secretVersion: string, why: string): InternalError {
  return new InternalError('The service account key could not be loaded.', {
    reason: 'KEY_INVALID',
    detail: `${secretVersion}: ${why}`,
  });
}
