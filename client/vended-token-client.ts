/**
 * A google-auth-library `AuthClient` whose access tokens come from the token vending service.
 * Hand it to any Google client as `authClient` (`new GoogleAuth({authClient})`,
 * `new SecretManagerServiceClient({authClient})`, `@google/genai`'s
 * `googleAuthOptions: {authClient}`) and it uses vended tokens with no other change.
 *
 * Cache policy: a token is served from memory until `refreshAheadMs` before it expires; then it
 * is still served while one background refresh runs; with less than `minRemainingMs` left the
 * caller waits for a fresh one. Concurrent refreshes share one request to the service.
 */
import { Readable } from 'node:stream';
import { AuthClient, type gaxios } from 'google-auth-library';

type AuthClientOptions = NonNullable<ConstructorParameters<typeof AuthClient>[0]>;
import { SingleFlight } from '../shared/http/singleflight.js';
import { clientError, isTransient } from './friendly-error.js';
import { metadataIdTokenSource, type IdTokenSource } from './id-token-source.js';
import { retryTransient, type ClientRetryOptions } from './retry.js';
import { assertSecureTransport } from './transport-security.js';
import { fetchVendedAccessToken, type VendedAccessToken } from './token-service.js';

export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

export interface VendedTokenClientOptions {
  /**
   * Base URL of the token function (also the audience of the workload's ID token). https;
   * plain http only to a loopback host, else the constructor throws `InsecureTransportError`.
   */
  serviceUrl: string;
  /** The service account whose tokens to ask for. */
  targetServiceAccount: string;
  /** OAuth scopes (default: cloud-platform). */
  scopes?: readonly string[];
  /** Requested token lifetime in seconds (1-3600; default: the service's, one hour). */
  lifetimeSeconds?: number;
  /** The workload's own credential; default: a metadata-server ID token for `serviceUrl`. */
  idTokenSource?: IdTokenSource;
  /** Start refreshing this long before expiry (default 5 min). */
  refreshAheadMs?: number;
  /** Never hand out a token with less than this left; wait for a new one (default 30 s). */
  minRemainingMs?: number;
  /** Retries of transient failures of the token service. */
  retry?: ClientRetryOptions;
  /** Deadline of one request to the service (default 10 s). */
  requestTimeoutMs?: number;
  /** Options of the AuthClient base (e.g. `quotaProjectId`, `universeDomain`). */
  authClientOptions?: AuthClientOptions;
  fetchImpl?: typeof fetch;
  now?: () => number;
}

interface CachedToken extends VendedAccessToken {
  refreshAtMs: number;
}

const DEFAULT_REFRESH_AHEAD_MS = 5 * 60_000;
const DEFAULT_MIN_REMAINING_MS = 30_000;
/** Wait before another background refresh after one failed. */
const BACKGROUND_RETRY_MS = 10_000;

/** An `AuthClient` backed by the token vending service (see the module comment). */
export class VendedTokenClient extends AuthClient {
  readonly serviceUrl: string;
  readonly targetServiceAccount: string;
  readonly scopes: readonly string[];
  readonly #options: VendedTokenClientOptions;
  readonly #idTokenSource: IdTokenSource;
  readonly #refreshAheadMs: number;
  readonly #minRemainingMs: number;
  readonly #now: () => number;
  readonly #flight = new SingleFlight<'token', CachedToken>();
  #cached: CachedToken | undefined;

  constructor(options: VendedTokenClientOptions) {
    super(options.authClientOptions);
    validate(options);
    this.#options = options;
    this.serviceUrl = options.serviceUrl.replace(/\/+$/, '');
    this.targetServiceAccount = options.targetServiceAccount;
    this.scopes = Object.freeze([...(options.scopes ?? [CLOUD_PLATFORM_SCOPE])]);
    this.#idTokenSource = options.idTokenSource ?? metadataIdTokenSource(this.serviceUrl);
    this.#refreshAheadMs = options.refreshAheadMs ?? DEFAULT_REFRESH_AHEAD_MS;
    this.#minRemainingMs = options.minRemainingMs ?? DEFAULT_MIN_REMAINING_MS;
    this.#now = options.now ?? Date.now;
  }

  /** The current access token: cached, refreshed ahead of expiry, fetched when needed. */
  async getAccessToken(): Promise<{ token: string; res: null }> {
    return { token: await this.#currentToken(), res: null };
  }

  /** `Authorization: Bearer <vended token>` (plus `x-goog-user-project` when a quota project is set). */
  async getRequestHeaders(_url?: string | URL): Promise<Headers> {
    const headers = new Headers({ authorization: `Bearer ${await this.#currentToken()}` });
    return withOwnProperties(this.addSharedMetadataHeaders(headers));
  }

  /** A gaxios request with vended credentials; a 401 drops the cached token and retries once. */
  request<T>(options: gaxios.GaxiosOptions): gaxios.GaxiosPromise<T> {
    return this.#requestAsync<T>(options, false);
  }

  /** Drops the cached token so the next use fetches a new one (e.g. after a 401 elsewhere). */
  invalidate(): void {
    this.#cached = undefined;
    this.#flight.forget('token');
  }

  /** When the cached token expires (ms since the epoch), if there is one. */
  get expiresAtMs(): number | undefined {
    return this.#cached?.expiresAtMs;
  }

  async #currentToken(): Promise<string> {
    const now = this.#now();
    const cached = this.#cached;
    if (cached !== undefined && now < cached.refreshAtMs) return cached.token;
    if (cached !== undefined && now < cached.expiresAtMs - this.#minRemainingMs) {
      // Still good: serve it and refresh in the background; a failure only delays the next try.
      this.#refresh().catch(() => {
        if (this.#cached === cached)
          cached.refreshAtMs = Math.min(
            this.#now() + BACKGROUND_RETRY_MS,
            cached.expiresAtMs - this.#minRemainingMs,
          );
      });
      return cached.token;
    }
    return (await this.#refresh()).token;
  }

  #refresh(): Promise<CachedToken> {
    return this.#flight.do('token', async () => {
      const minted = await retryTransient(
        'token-service',
        (signal) => this.#fetchOnce(signal),
        this.#options.retry,
      );
      const fresh = { ...minted, refreshAtMs: this.#refreshAt(minted) };
      this.#cached = fresh;
      return fresh;
    });
  }

  async #fetchOnce(signal: AbortSignal): Promise<VendedAccessToken> {
    let callerToken: string;
    try {
      callerToken = await this.#idTokenSource();
    } catch (err) {
      if (isTransient(err)) throw err;
      throw clientError({
        service: 'token-service',
        code: 'UNAUTHENTICATED',
        serverMessage: "could not obtain the workload's own ID token",
        cause: err,
      });
    }
    return fetchVendedAccessToken({
      serviceUrl: this.serviceUrl,
      targetServiceAccount: this.targetServiceAccount,
      scopes: this.scopes,
      callerToken,
      signal,
      ...(this.#options.lifetimeSeconds === undefined
        ? {}
        : { lifetimeSeconds: this.#options.lifetimeSeconds }),
      ...(this.#options.requestTimeoutMs === undefined ? {} : { timeoutMs: this.#options.requestTimeoutMs }),
      ...(this.#options.fetchImpl === undefined ? {} : { fetchImpl: this.#options.fetchImpl }),
    });
  }

  /** When to start refreshing: `refreshAheadMs` before expiry, or — for a token handed out already
   * inside that window (the service may be refreshing its own cache) — halfway to its usable end. */
  #refreshAt(minted: VendedAccessToken): number {
    const now = this.#now();
    const ahead = minted.expiresAtMs - this.#refreshAheadMs;
    if (ahead > now) return ahead;
    return now + Math.max(1000, (minted.expiresAtMs - this.#minRemainingMs - now) / 2);
  }

  async #requestAsync<T>(options: gaxios.GaxiosOptions, retried: boolean): Promise<gaxios.GaxiosResponse<T>> {
    const headers = new Headers(options.headers);
    this.addUserProjectAndAuthHeaders(headers, await this.getRequestHeaders());
    try {
      return await this.transporter.request<T>({ ...options, headers });
    } catch (err) {
      const status = (err as { response?: { status?: unknown } }).response?.status;
      if (!retried && status === 401 && !(options.data instanceof Readable)) {
        this.invalidate();
        return this.#requestAsync<T>(options, true);
      }
      throw err;
    }
  }
}

/**
 * Mirrors each header as an own enumerable property of the `Headers` object. grpc-js's
 * `createFromGoogleCredential` (what google-gax 4 uses, so @google-cloud/secret-manager 6 and
 * other gRPC clients) reads credentials with `Object.keys(headers)`, the google-auth-library 9
 * shape; google-auth-library 10 and @google/genai iterate the `Headers`. Both then see them.
 */
function withOwnProperties(headers: Headers): Headers {
  headers.forEach((value, name) =>
    Object.defineProperty(headers, name, { value, enumerable: true, configurable: true }),
  );
  return headers;
}

function validate(options: VendedTokenClientOptions): void {
  if (typeof options !== 'object' || options === null)
    throw new TypeError('VendedTokenClient: options are required');
  let url: URL;
  try {
    url = new URL(options.serviceUrl);
  } catch {
    throw new TypeError('VendedTokenClient: serviceUrl must be an absolute URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new TypeError('VendedTokenClient: serviceUrl must be http(s)');
  assertSecureTransport(url, 'VendedTokenClient: serviceUrl');
  if (typeof options.targetServiceAccount !== 'string' || !options.targetServiceAccount.includes('@')) {
    throw new TypeError('VendedTokenClient: targetServiceAccount must be a service account email');
  }
  if (options.scopes !== undefined && (!Array.isArray(options.scopes) || options.scopes.length === 0)) {
    throw new TypeError('VendedTokenClient: scopes must be a non-empty array');
  }
  const lifetime = options.lifetimeSeconds;
  if (lifetime !== undefined && (!Number.isInteger(lifetime) || lifetime < 1 || lifetime > 3600)) {
    throw new TypeError('VendedTokenClient: lifetimeSeconds must be an integer from 1 to 3600');
  }
  for (const name of ['refreshAheadMs', 'minRemainingMs', 'requestTimeoutMs'] as const) {
    const v = options[name];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0))
      throw new TypeError(`VendedTokenClient: ${name} must be a number >= 0`);
  }
}
