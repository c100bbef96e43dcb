import { ApiError } from '@google/genai';
import { describe, expect, it } from 'vitest';
import { GeminiError, isApiKeyInvalid, isTransient, toFriendlyError } from '../../../client/index.js';
import { scrub } from '../../../client/errors.js';
import { UnavailableError } from '../../../shared/errors.js';

/** What @google/genai throws for a non-2xx JSON answer: the message is the error body. */
function apiError(code: number, status: string, reason?: string, message = 'x'): ApiError {
  const details = reason
    ? [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason, domain: 'googleapis.com' }]
    : [];
  return new ApiError({
    status: code,
    message: JSON.stringify({ error: { code, message, status, details } }),
  });
}

describe('toFriendlyError', () => {
  it.each([
    [400, 'INVALID_ARGUMENT', undefined, 'INVALID_ARGUMENT', /check the request/i],
    [400, 'INVALID_ARGUMENT', 'API_KEY_INVALID', 'INVALID_ARGUMENT', /API key is not valid/],
    [403, 'PERMISSION_DENIED', undefined, 'PERMISSION_DENIED', /key restrictions.*scopes.*policy/i],
    [404, 'NOT_FOUND', undefined, 'NOT_FOUND', /URL, the model name/],
    [429, 'RESOURCE_EXHAUSTED', 'RATE_LIMIT_EXCEEDED', 'RESOURCE_EXHAUSTED', /quota/i],
    [500, 'INTERNAL', undefined, 'INTERNAL', /retry later/i],
    [503, 'UNAVAILABLE', undefined, 'UNAVAILABLE', /retry later/i],
  ])(
    'maps a genai ApiError %i %s (%s) to GeminiError %s with a hint',
    (status, googleStatus, reason, code, hint) => {
      const err = toFriendlyError(apiError(status, googleStatus, reason), 'gemini', 2) as GeminiError;
      expect(err).toBeInstanceOf(GeminiError);
      expect(err).toMatchObject({ code, httpStatus: status, reason, service: 'gemini', attempts: 2 });
      expect(err.hint).toMatch(hint);
      expect(err.cause).toBeInstanceOf(ApiError);
    },
  );

  it.each([
    [403, 'PERMISSION_DENIED', 'AUDIENCE_IS_THIS_SERVICE', /never mints an ID token for its own audience/],
    [503, 'UNAVAILABLE', 'POLICY_STALE', /could not re-read its policy/],
  ])('explains the token service’s %i %s (%s) refusal', (status, googleStatus, reason, hint) => {
    const body = {
      error: {
        code: status,
        status: googleStatus,
        message: 'x',
        details: [
          {
            '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
            reason,
            domain: 'tokenvending.googleapis.local',
          },
        ],
      },
    };
    const err = toFriendlyError(
      { message: 'Request failed', response: { status, data: body } },
      'token-service',
    );
    expect(err).toMatchObject({ name: 'TokenServiceError', code: googleStatus, httpStatus: status, reason });
    expect((err as GeminiError).hint).toMatch(hint);
  });

  it('maps a gaxios-shaped error by its response', () => {
    const err = toFriendlyError(
      {
        message: 'Request failed',
        response: { status: 403, data: { error: { code: 403, status: 'PERMISSION_DENIED', message: 'no' } } },
      },
      'gemini',
    );
    expect(err).toMatchObject({ name: 'GeminiError', code: 'PERMISSION_DENIED', httpStatus: 403 });
  });

  it('maps shared canonical errors (Secret Manager adapter) by their code', () => {
    const err = toFriendlyError(
      new UnavailableError('Secret Manager is unavailable; try again later.', {
        reason: 'SECRET_MANAGER_UNAVAILABLE',
      }),
      'secret-manager',
      4,
    );
    expect(err).toMatchObject({
      name: 'ApiKeySourceError',
      code: 'UNAVAILABLE',
      reason: 'SECRET_MANAGER_UNAVAILABLE',
      attempts: 4,
    });
  });

  it('maps a connection reset to UNAVAILABLE', () => {
    const reset = Object.assign(new TypeError('fetch failed'), {
      cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
    });
    expect(toFriendlyError(reset, 'gemini')).toMatchObject({ code: 'UNAVAILABLE', httpStatus: undefined });
  });

  it('passes programming errors through unwrapped', () => {
    const bug = new RangeError('bad index');
    expect(toFriendlyError(bug)).toBe(bug);
  });

  it('never puts a key or token from the server message into the error message', () => {
    const key = `AIza${'x'.repeat(35)}`;
    const err = toFriendlyError(
      apiError(400, 'INVALID_ARGUMENT', 'API_KEY_INVALID', `API key ${key} not valid; token ya29.a0AfH6SMBx`),
    );
    expect(err.message).not.toContain(key);
    expect(err.message).not.toContain('ya29.a0AfH6SMBx');
    expect(err.message).toContain('[redacted]');
  });
});

describe('classification', () => {
  it.each([
    [429, true],
    [500, true],
    [502, true],
    [503, true],
    [504, true],
    [400, false],
    [401, false],
    [403, false],
    [404, false],
  ])('HTTP %i is transient: %s', (status, transient) => {
    expect(isTransient(apiError(status, 'X'))).toBe(transient);
  });

  it.each([
    [400, 'API_KEY_INVALID', true],
    [403, 'API_KEY_INVALID', true],
    [400, 'BAD_REQUEST', false],
    [401, 'API_KEY_INVALID', false],
  ])('HTTP %i with reason %s is an invalid API key: %s', (status, reason, expected) => {
    expect(isApiKeyInvalid(apiError(status, 'INVALID_ARGUMENT', reason))).toBe(expected);
  });
});

describe('scrub', () => {
  it.each([
    ['a JWT', 'got eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln here', 'got [redacted] here'],
    [
      'a PEM block',
      'key -----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY----- end',
      'key [redacted] end',
    ],
    ['a long opaque string', `x ${'a1'.repeat(30)} y`, 'x [redacted] y'],
  ])('removes %s', (_name, input, expected) => {
    expect(scrub(input)).toBe(expected);
  });

  it('caps the length', () => {
    expect(scrub('word '.repeat(100)).length).toBeLessThanOrEqual(201);
  });
});
