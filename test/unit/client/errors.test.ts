/**
 * How the client reads an answer it did not like: the canonical code for a Google `status` or an
 * HTTP status, and what a Google (AIP-193) or OAuth (RFC 6749) error body says.
 */
import { describe, expect, it } from 'vitest';
import { codeFor, readErrorBody } from '../../../client/errors.js';

describe('codeFor', () => {
  it.each<[number | undefined, unknown, string]>([
    [400, 'FAILED_PRECONDITION', 'FAILED_PRECONDITION'],
    [400, 'OUT_OF_RANGE', 'INVALID_ARGUMENT'],
    [403, 'UNAUTHENTICATED', 'UNAUTHENTICATED'],
    [500, 'UNAVAILABLE', 'UNAVAILABLE'],
    [undefined, 'DEADLINE_EXCEEDED', 'DEADLINE_EXCEEDED'],
    [409, 'ABORTED', 'UNKNOWN'],
    [409, 'ALREADY_EXISTS', 'UNKNOWN'],
    [400, 'NO_SUCH_CODE', 'INVALID_ARGUMENT'],
    [400, 42, 'INVALID_ARGUMENT'],
    [400, undefined, 'INVALID_ARGUMENT'],
    [401, undefined, 'UNAUTHENTICATED'],
    [403, undefined, 'PERMISSION_DENIED'],
    [404, undefined, 'NOT_FOUND'],
    [429, undefined, 'RESOURCE_EXHAUSTED'],
    [500, undefined, 'INTERNAL'],
    [501, undefined, 'INTERNAL'],
    [502, undefined, 'INTERNAL'],
    [503, undefined, 'UNAVAILABLE'],
    [504, undefined, 'DEADLINE_EXCEEDED'],
    [409, undefined, 'UNKNOWN'],
    [408, undefined, 'UNKNOWN'],
    [200, undefined, 'UNKNOWN'],
    [undefined, undefined, 'UNKNOWN'],
  ])('HTTP %s with status %j reads as %s', (httpStatus, status, expected) => {
    expect(codeFor(httpStatus, status)).toBe(expected);
  });
});

describe('readErrorBody', () => {
  it('reads status, message and the ErrorInfo reason of Google’s error model', () => {
    expect(
      readErrorBody({
        error: {
          code: 403,
          status: 'PERMISSION_DENIED',
          message: 'denied',
          details: [
            { '@type': 'type.googleapis.com/google.rpc.Help', links: [] },
            { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'd' },
            { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'SECOND', domain: 'd' },
          ],
        },
      }),
    ).toEqual({ status: 'PERMISSION_DENIED', message: 'denied', reason: 'API_KEY_INVALID' });
  });

  it('reads the OAuth form: error as the reason, error_description as the message', () => {
    expect(readErrorBody({ error: 'invalid_grant', error_description: 'Invalid JWT Signature.' })).toEqual({
      reason: 'invalid_grant',
      message: 'Invalid JWT Signature.',
    });
    expect(readErrorBody({ error: 'invalid_grant' })).toEqual({ reason: 'invalid_grant' });
  });

  it.each<[string, unknown]>([
    ['undefined', undefined],
    ['null', null],
    ['a string', 'error'],
    ['an array', [{ error: 'x' }]],
    ['an object without error', { message: 'x' }],
    ['a null error', { error: null }],
    ['a numeric error', { error: 5 }],
  ])('reads nothing from %s', (_name, body) => {
    expect(readErrorBody(body)).toEqual({});
  });

  it('ignores fields of the wrong type and details that are not a list', () => {
    expect(readErrorBody({ error: { status: 5, message: {}, details: { reason: 'X' } } })).toEqual({});
    expect(readErrorBody({ error: { details: [null, 'x', { reason: 7 }, { reason: 'R' }] } })).toEqual({
      reason: 'R',
    });
  });
});
