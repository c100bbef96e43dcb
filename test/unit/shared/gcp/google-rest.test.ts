/**
 * How a Google REST answer becomes our error, and which ones `callGoogle` retries, against a fake
 * of OUR transport interface (it answers like Google's REST APIs: status, JSON body, Retry-After).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AbortedError,
  FailedPreconditionError,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  ResourceExhaustedError,
  UnauthenticatedError,
  UnavailableError,
} from '../../../../shared/errors.js';
import {
  boundedTransport,
  callGoogle,
  MAX_REST_RESPONSE_BYTES,
  restError,
  type RestResponse,
  type RestTransport,
} from '../../../../shared/gcp/google-rest.js';

const body = (status: number, googleStatus: string, reason?: string, message = 'Google says no') => ({
  error: {
    code: status,
    status: googleStatus,
    message,
    details: reason
      ? [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason, domain: 'googleapis.com' }]
      : [],
  },
});

describe('restError', () => {
  it.each([
    [400, 'INVALID_ARGUMENT', InvalidArgumentError, 'invalid request.'],
    [400, 'FAILED_PRECONDITION', FailedPreconditionError, 'precondition failed.'],
    [401, 'UNAUTHENTICATED', UnauthenticatedError, 'not authenticated.'],
    [403, 'PERMISSION_DENIED', PermissionDeniedError, 'permission denied.'],
    [404, 'NOT_FOUND', NotFoundError, 'not found.'],
    [409, 'ALREADY_EXISTS', AbortedError, 'conflict.'],
    [429, 'RESOURCE_EXHAUSTED', ResourceExhaustedError, 'quota exhausted.'],
    [500, 'INTERNAL', UnavailableError, 'upstream unavailable.'],
    [503, 'UNAVAILABLE', UnavailableError, 'upstream unavailable.'],
    [504, 'DEADLINE_EXCEEDED', UnavailableError, 'upstream unavailable.'],
    [412, 'FAILED_PRECONDITION', InternalError, 'unexpected answer.'],
    [302, '', InternalError, 'unexpected answer.'],
  ])('maps HTTP %i %s to %o', (status, googleStatus, type, message) => {
    const error = restError(status, body(status, googleStatus, 'SOME_REASON'), 'IAM keys.create');
    expect(error).toBeInstanceOf(type);
    expect(error.message).toBe(`IAM keys.create: ${message}`);
    expect(error.reason).toBe('SOME_REASON');
    expect(error.metadata).toEqual({ googleStatus });
  });

  it('keeps Google’s status, reason, violations and message for the log', () => {
    const json = {
      error: {
        code: 400,
        status: 'FAILED_PRECONDITION',
        message: 'Key creation is not allowed on this service account.',
        details: [
          {
            '@type': 'type.googleapis.com/google.rpc.PreconditionFailure',
            violations: [{ type: 'constraints/iam.disableServiceAccountKeyCreation', subject: 'x' }, {}],
          },
        ],
      },
    };
    const error = restError(400, json, 'IAM keys.create', 7);
    expect(error).toBeInstanceOf(FailedPreconditionError);
    expect(error).toMatchObject({
      reason: 'FAILED_PRECONDITION',
      detail:
        'IAM keys.create: HTTP 400 FAILED_PRECONDITION constraints/iam.disableServiceAccountKeyCreation Key creation is not allowed on this service account.',
      metadata: {
        googleStatus: 'FAILED_PRECONDITION',
        violations: 'constraints/iam.disableServiceAccountKeyCreation',
      },
      retryAfterSeconds: 7,
    });
  });

  it.each<[string, unknown]>([
    ['no body', undefined],
    ['a body that is not Google’s error model', { oops: true }],
    ['a string body', 'Bad Gateway'],
  ])('falls back to HTTP_<status> for %s', (_name, json) => {
    const error = restError(502, json, 'API Keys get');
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error).toMatchObject({
      reason: 'HTTP_502',
      detail: 'API Keys get: HTTP 502',
      metadata: { googleStatus: '' },
    });
  });

  it('caps Google’s message at 300 characters', () => {
    const error = restError(400, body(400, 'INVALID_ARGUMENT', undefined, 'm'.repeat(400)), 'x');
    expect(error.detail).toBe(`x: HTTP 400 INVALID_ARGUMENT ${'m'.repeat(300)}`);
    expect(error.reason).toBe('INVALID_ARGUMENT');
  });
});

describe('callGoogle', () => {
  /** A transport answering `answers` in turn (the last repeats); records the calls. */
  function transport(answers: Array<RestResponse | Error>) {
    let calls = 0;
    const send: RestTransport = () => {
      const a = answers[Math.min(calls++, answers.length - 1)];
      return a instanceof Error ? Promise.reject(a) : Promise.resolve(a);
    };
    return { send, calls: () => calls };
  }
  const request = { method: 'GET' as const, url: 'https://iam.example/v1/x' };
  const options = { deadlineMs: 5000, timeoutMs: 1000 };

  it('returns the JSON body of a 2xx', async () => {
    const t = transport([{ status: 200, json: { name: 'x' } }]);
    await expect(callGoogle(t.send, request, 'IAM get', options)).resolves.toEqual({ name: 'x' });
  });

  it.each<[string, RestResponse | Error]>([
    ['a 503', { status: 503, json: body(503, 'UNAVAILABLE') }],
    ['a 429', { status: 429, json: body(429, 'RESOURCE_EXHAUSTED') }],
    ['a network failure', new TypeError('fetch failed')],
  ])('retries %s and returns the next answer', async (_name, failure) => {
    const t = transport([failure, { status: 200, json: { ok: true } }]);
    await expect(callGoogle(t.send, request, 'IAM get', options)).resolves.toEqual({ ok: true });
    expect(t.calls()).toBe(2);
  });

  it('does not retry a refusal', async () => {
    const t = transport([{ status: 403, json: body(403, 'PERMISSION_DENIED', 'IAM_PERMISSION_DENIED') }]);
    const error = await callGoogle(t.send, request, 'IAM get', options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermissionDeniedError);
    expect(t.calls()).toBe(1);
  });

  it('retries a refusal when asked to retry everything', async () => {
    const t = transport([
      { status: 403, json: body(403, 'PERMISSION_DENIED') },
      { status: 200, json: {} },
    ]);
    await expect(callGoogle(t.send, request, 'IAM get', { ...options, retryAll: true })).resolves.toEqual({});
    expect(t.calls()).toBe(2);
  });

  it('honours a delta-seconds Retry-After: a wait past the deadline gives up after one call', async () => {
    const t = transport([{ status: 503, json: body(503, 'UNAVAILABLE'), retryAfter: '30' }]);
    const error = await callGoogle(t.send, request, 'IAM get', options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error).toMatchObject({ reason: 'UPSTREAM_DEADLINE_EXCEEDED' });
    expect(t.calls()).toBe(1);
  });

  it('honours an HTTP-date Retry-After the same way', async () => {
    const inAMinute = new Date(Date.now() + 60_000).toUTCString();
    const t = transport([{ status: 503, json: body(503, 'UNAVAILABLE'), retryAfter: inAMinute }]);
    const error = await callGoogle(t.send, request, 'IAM get', options).catch((e: unknown) => e);
    expect(error).toMatchObject({ reason: 'UPSTREAM_DEADLINE_EXCEEDED' });
    expect(t.calls()).toBe(1);
  });

  it.each([
    ['an HTTP-date in the past', 'Thu, 01 Jan 2015 00:00:00 GMT'],
    ['an unparseable value', 'soon'],
    ['zero', '0'],
  ])('retries at once after %s, and passes no Retry-After on', async (_name, retryAfter) => {
    const t = transport([{ status: 503, json: body(503, 'UNAVAILABLE'), retryAfter }]);
    const error = await callGoogle(t.send, request, 'IAM get', { ...options, maxAttempts: 2 }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ reason: 'UPSTREAM_UNAVAILABLE' });
    expect((error as UnavailableError).cause).toMatchObject({ retryAfterSeconds: undefined });
    expect(t.calls()).toBe(2);
  });

  it('caps a Retry-After at one hour and passes it on in seconds', async () => {
    const t = transport([{ status: 429, json: body(429, 'RESOURCE_EXHAUSTED'), retryAfter: '86400' }]);
    const error = await callGoogle(t.send, request, 'IAM get', { ...options, maxAttempts: 1 }).catch(
      (e: unknown) => e,
    );
    expect((error as UnavailableError).cause).toMatchObject({ retryAfterSeconds: 3600 });
  });

  it('passes the Retry-After of a final answer on to the caller in seconds', async () => {
    const t = transport([{ status: 429, json: body(429, 'RESOURCE_EXHAUSTED'), retryAfter: '2' }]);
    const error = await callGoogle(t.send, request, 'IAM get', { ...options, maxAttempts: 1 }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(UnavailableError);
    expect((error as UnavailableError).cause).toMatchObject({ retryAfterSeconds: 2 });
  });
});

describe('boundedTransport (API-key calls, over HTTP)', () => {
  let server: Server;
  let base: string;
  let answer: (req: IncomingMessage, res: ServerResponse) => void;
  const seen: { method?: string; headers: IncomingMessage['headers'] }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push({ method: req.method, headers: req.headers });
      req.resume().on('end', () => answer(req, res));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('sends the API key header and reads the status, JSON body and Retry-After', async () => {
    answer = (_req, res) => {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '7' });
      res.end(JSON.stringify(body(429, 'RESOURCE_EXHAUSTED')));
    };
    const response = await boundedTransport()({
      method: 'GET',
      url: `${base}/v1beta/models?pageSize=1`,
      headers: { 'x-goog-api-key': 'AIzaTEST' },
      timeoutMs: 2000,
    });
    expect(response).toEqual({ status: 429, json: body(429, 'RESOURCE_EXHAUSTED'), retryAfter: '7' });
    expect(seen.at(-1)?.headers['x-goog-api-key']).toBe('AIzaTEST');
  });

  it(`refuses an answer over ${MAX_REST_RESPONSE_BYTES} bytes: callGoogle reports the upstream unreachable`, async () => {
    answer = (_req, res) => res.end(`"${'x'.repeat(MAX_REST_RESPONSE_BYTES)}"`);
    const error = await callGoogle(
      boundedTransport(),
      { method: 'GET', url: `${base}/huge` },
      'Gemini models.list',
      { deadlineMs: 2000, timeoutMs: 1000, maxAttempts: 1 },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnavailableError);
    const attempt = (error as UnavailableError).cause as UnavailableError; // withRetry keeps the last attempt's error
    expect(attempt.detail).toBe(
      `Gemini models.list: FetchError: response body exceeded ${MAX_REST_RESPONSE_BYTES} bytes`,
    );
  });
});
