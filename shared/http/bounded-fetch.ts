/**
 * An HTTP fetch with a deadline, a hard cap on the response body and no redirects: the one way
 * this project reads documents it does not control (OIDC discovery, JWKS, tokeninfo, token
 * endpoints). Peers were hurt by unbounded JWKS fetches (octo-sts GHSA-75r6-6jg8-pfcq).
 *
 * It speaks HTTP/1.1 with Node's `http`/`https` clients over keep-alive agents: on the mint path a
 * WHATWG `fetch` (undici) cost ~3x the client CPU per token exchange (~420 against ~130 µs,
 * docs/performance.md) and ~20 ms to load at the first call. A caller may still hand in a `fetch`
 * (`fetchImpl`), e.g. one with a proxy dispatcher; tests use it to script an endpoint.
 */
import type { Agent, IncomingHttpHeaders, IncomingMessage, RequestOptions } from 'node:http';

export type FetchErrorKind = 'timeout' | 'too_large' | 'network' | 'aborted';

/**
 * Why a bounded fetch failed. The message names the kind and the limit only: never the URL
 * (a query may carry a token), the request body or any header.
 */
export class FetchError extends Error {
  readonly kind: FetchErrorKind;

  constructor(kind: FetchErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FetchError';
    this.kind = kind;
  }
}

export interface BoundedFetchOptions {
  method?: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  headers?: Record<string, string>;
  body?: string;
  /** Deadline for the whole exchange: connect, headers and body. */
  timeoutMs: number;
  /** Largest response body accepted, in bytes; one byte more aborts the request. */
  maxBytes: number;
  /** Caller's cancellation; combined with the deadline. */
  signal?: AbortSignal;
  fetchImpl?: typeof fetch;
}

/** The response headers a caller reads (`Headers` of a `fetch` response satisfies it). */
export interface ResponseHeaders {
  /** The header's value, or null when absent (repeated headers: see {@link headerReader}). */
  get(name: string): string | null;
}

export interface BoundedResponse {
  status: number;
  headers: ResponseHeaders;
  /** The body decoded as UTF-8, at most `maxBytes` bytes. */
  text: string;
}

/** A JSON POST to a Google API with the caller's OAuth access token, bounded like {@link boundedFetch}. */
export function postJsonWithBearer(
  url: string,
  token: string,
  body: unknown,
  options: Pick<BoundedFetchOptions, 'timeoutMs' | 'maxBytes' | 'signal' | 'fetchImpl'>,
): Promise<BoundedResponse> {
  return boundedFetch(url, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json',
    },
    body: JSON.stringify(body),
    ...options,
  });
}

/** A form POST to an OAuth endpoint (JSON expected back), bounded like {@link boundedFetch}. */
export function postForm(
  url: string,
  form: Record<string, string>,
  options: Pick<BoundedFetchOptions, 'timeoutMs' | 'maxBytes' | 'signal' | 'fetchImpl'>,
): Promise<BoundedResponse> {
  return boundedFetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(form).toString(),
    ...options,
  });
}

/** "`what` timed out" or "`what` unreachable": a transport failure of a call, for a log or an error's detail. */
export function transportFailure(what: string, err: unknown): string {
  return `${what} ${err instanceof FetchError && err.kind === 'timeout' ? 'timed out' : 'unreachable'}`;
}

/**
 * Fetches `url` without following redirects (a redirect could point key material elsewhere),
 * within `timeoutMs`, reading at most `maxBytes` of body. Any status is returned to the caller;
 * only transport failures throw, as {@link FetchError}. Invalid options throw `TypeError`.
 */
export async function boundedFetch(url: string, options: BoundedFetchOptions): Promise<BoundedResponse> {
  const { timeoutMs, maxBytes } = options;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
    throw new TypeError('boundedFetch: timeoutMs must be a positive number');
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0)
    throw new TypeError('boundedFetch: maxBytes must be a non-negative integer');
  const target = parseHttpUrl(url);
  const headers = requestHeaders(options.headers);

  if (options.signal?.aborted) throw new FetchError('aborted', 'request aborted by the caller');

  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new FetchError('timeout', `request timed out after ${timeoutMs} ms`));
  }, timeoutMs);
  const onCallerAbort = (): void =>
    controller.abort(new FetchError('aborted', 'request aborted by the caller'));
  options.signal?.addEventListener('abort', onCallerAbort, { once: true });

  try {
    return options.fetchImpl
      ? await viaFetch(options.fetchImpl, target, { ...options, headers }, controller)
      : await viaNodeHttp(target, { ...options, headers }, controller.signal);
  } catch (error) {
    if (error instanceof FetchError) throw error;
    if (timedOut)
      throw new FetchError('timeout', `request timed out after ${timeoutMs} ms`, { cause: error });
    if (options.signal?.aborted)
      throw new FetchError('aborted', 'request aborted by the caller', { cause: error });
    throw new FetchError('network', 'request failed', { cause: error });
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onCallerAbort);
  }
}

function parseHttpUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Do not echo the input: it may carry a token in its query.
    throw new TypeError('boundedFetch: url is not a valid absolute URL');
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new TypeError('boundedFetch: url must use http or https');
  }
  // fetch refuses these; Node's client would send them as Basic credentials (a JWKS URL is attacker-chosen).
  if (parsed.username !== '' || parsed.password !== '') {
    throw new TypeError('boundedFetch: url must not carry credentials');
  }
  return parsed;
}

/** Default `user-agent`: some CDN-fronted JWKS endpoints refuse requests without one. */
const USER_AGENT = 'token-vending-service';

/** What Node accepts in a header value (its `checkInvalidHeaderChar`): no CR, LF or NUL. */
const VALID_HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * The request's headers: names lower-cased, values trimmed of leading and trailing whitespace as
 * `fetch` trims them (a token read from a file often ends in a newline), a `user-agent` unless one
 * is given. A value that still holds a control character is a caller's bug, refused as a
 * `TypeError` naming the header only (never retried as a network failure, never echoing a token).
 */
function requestHeaders(given: Record<string, string> = {}): Record<string, string> {
  const headers: Record<string, string> = { 'user-agent': USER_AGENT };
  for (const [name, value] of Object.entries(given)) {
    const trimmed = value.replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, '');
    if (!VALID_HEADER_VALUE.test(trimmed))
      throw new TypeError(`boundedFetch: header ${JSON.stringify(name.slice(0, 64))} has an invalid value`);
    headers[name.toLowerCase()] = trimmed;
  }
  return headers;
}

/** The request as `fetchImpl` sends it; the response read like {@link viaNodeHttp} reads it. */
async function viaFetch(
  fetchImpl: typeof fetch,
  target: URL,
  options: BoundedFetchOptions,
  controller: AbortController,
): Promise<BoundedResponse> {
  const response = await fetchImpl(target, {
    method: options.method ?? 'GET',
    ...(options.headers === undefined ? {} : { headers: options.headers }),
    ...(options.body === undefined ? {} : { body: options.body }),
    redirect: 'error',
    signal: controller.signal,
  });
  // Content-Length is only a hint: a short-cut rejection here, the streamed count below is the guard.
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > options.maxBytes) {
    controller.abort();
    throw tooLarge(options.maxBytes);
  }
  const text = await readCapped(response, options.maxBytes, controller);
  return { status: response.status, headers: response.headers, text };
}

const UTF8 = new TextDecoder('utf-8');

/** The statuses `fetch` treats as redirects; `redirect: 'error'` makes each a network error. */
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/**
 * Keep-alive agents, one per scheme: an idle connection is closed after 4 s (undici's default),
 * before a server's usual 5 s idle timeout can close it under a request being sent.
 */
const AGENT_OPTIONS = { keepAlive: true, scheduling: 'lifo', timeout: 4_000 } as const;

/**
 * With `NODE_USE_ENV_PROXY=1` Node 24's own agents and `fetch` honour `HTTP(S)_PROXY`/`NO_PROXY`;
 * ours do too (`proxyEnv`, Node ≥ 24.5; Node 20 has neither and ignores the option).
 */
function agentOptions(): ConstructorParameters<typeof Agent>[0] & { proxyEnv?: NodeJS.ProcessEnv } {
  return process.env.NODE_USE_ENV_PROXY === '1' ? { ...AGENT_OPTIONS, proxyEnv: process.env } : AGENT_OPTIONS;
}

interface Client {
  request: (typeof import('node:http'))['request'];
  agent: Agent;
}
const clients: { 'http:'?: Client; 'https:'?: Client } = {};

/**
 * Node's client for the URL's scheme, made at its first use. Taken with `process.getBuiltinModule`,
 * not an ES `import`: the ES facade of `node:http` reads every export, and one of them loads
 * undici (~50 ms of a cold start, measured).
 */
function clientFor(target: URL): Client {
  const scheme = target.protocol === 'https:' ? 'https:' : 'http:';
  let client = clients[scheme];
  if (client === undefined) {
    const module =
      scheme === 'https:' ? process.getBuiltinModule('node:https') : process.getBuiltinModule('node:http');
    client = { request: module.request, agent: new module.Agent(agentOptions()) };
    clients[scheme] = client;
  }
  return client;
}

/**
 * One request with Node's client; a GET whose kept-alive connection the server had already closed
 * (reset before any answer: the request never reached a live connection) is sent once more on a
 * fresh one, within the same deadline. Other methods are not resent: their callers retry what is
 * safe to retry.
 */
async function viaNodeHttp(
  target: URL,
  options: BoundedFetchOptions,
  signal: AbortSignal,
): Promise<BoundedResponse> {
  try {
    return await attempt(target, options, signal);
  } catch (error) {
    if (!(error instanceof StaleConnection)) throw error;
    if (signal.aborted) throw error.cause;
    return attempt(target, options, signal, { reuse: false });
  }
}

/** A reused keep-alive connection was reset before any response: nothing reached a live server. */
class StaleConnection extends Error {}

/**
 * One exchange. Settles once: with the response, or with the first failure — a refused redirect, a
 * body over `maxBytes` (announced or counted), a connection lost before the body ended, or the
 * `signal` (deadline or caller) destroying the request.
 */
function attempt(
  target: URL,
  options: BoundedFetchOptions,
  signal: AbortSignal,
  { reuse }: { reuse: boolean } = { reuse: true },
): Promise<BoundedResponse> {
  const { request, agent } = clientFor(target);
  const body = options.body === undefined ? undefined : Buffer.from(options.body, 'utf8');
  const method = options.method ?? 'GET';
  const requestOptions: RequestOptions = {
    method,
    headers: { ...options.headers, ...(body === undefined ? {} : { 'content-length': String(body.length) }) },
    // A resend gets a connection of its own (the pool may hold more sockets the server closed).
    agent: reuse ? agent : false,
    signal,
  };
  return new Promise<BoundedResponse>((resolve, reject) => {
    let answered = false;
    const req = request(target, requestOptions, (res: IncomingMessage) => {
      answered = true;
      const fail = (error: Error): void => {
        req.destroy();
        reject(error);
      };
      const status = res.statusCode ?? 0;
      if (REDIRECT_STATUSES.has(status))
        return fail(new FetchError('network', `redirect refused (HTTP ${status})`));
      const declared = Number(res.headers['content-length'] ?? Number.NaN);
      if (Number.isFinite(declared) && declared > options.maxBytes) return fail(tooLarge(options.maxBytes));
      const chunks: Buffer[] = [];
      let received = 0;
      res.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > options.maxBytes) return fail(tooLarge(options.maxBytes));
        chunks.push(chunk);
      });
      res.on('end', () =>
        resolve({
          status,
          headers: headerReader(res.headers),
          text: UTF8.decode(Buffer.concat(chunks, received)), // like fetch's text(): a leading BOM dropped
        }),
      );
      res.on('error', reject);
      res.on('close', () => {
        if (!res.complete) reject(new FetchError('network', 'connection closed before the response ended'));
      });
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      const stale = reuse && method === 'GET' && req.reusedSocket && !answered && error.code === 'ECONNRESET';
      reject(stale ? new StaleConnection('stale keep-alive connection', { cause: error }) : error);
    });
    req.end(body);
  });
}

/**
 * Reads Node's (lower-cased) response headers. Node joins most repeated headers with ", " as
 * `Headers.get` does, but keeps only the first of a few (e.g. `retry-after`, `content-type`, `age`).
 */
function headerReader(headers: IncomingHttpHeaders): ResponseHeaders {
  return {
    get(name) {
      const key = name.toLowerCase();
      const value = Object.hasOwn(headers, key) ? headers[key] : undefined;
      if (value === undefined) return null;
      return Array.isArray(value) ? value.join(', ') : value;
    },
  };
}

async function readCapped(
  response: Response,
  maxBytes: number,
  controller: AbortController,
): Promise<string> {
  if (response.body === null) return '';
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder('utf-8');
  let received = 0;
  let text = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    received += value.byteLength;
    if (received > maxBytes) {
      controller.abort();
      await reader.cancel().catch(() => undefined);
      throw tooLarge(maxBytes);
    }
    text += decoder.decode(value, { stream: true });
  }
  return text + decoder.decode();
}

function tooLarge(maxBytes: number): FetchError {
  return new FetchError('too_large', `response body exceeded ${maxBytes} bytes`);
}
