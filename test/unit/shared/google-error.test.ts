/**
 * The one reader of Google error bodies (AIP-193 and OAuth's RFC 6749 form) and the canonical
 * code <-> HTTP status table, as the client, the REST adapters and the minting backends use them.
 */
import { describe, expect, it } from 'vitest';
import { HTTP_STATUS, type ErrorCode } from '../../../shared/errors.js';
import { codeForHttpStatus, codeForStatus, readGoogleError } from '../../../shared/google-error.js';

describe('readGoogleError', () => {
  it('reads status, message and the ErrorInfo reason of Google’s error model', () => {
    expect(
      readGoogleError({
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
    expect(readGoogleError({ error: 'invalid_grant', error_description: 'Invalid JWT Signature.' })).toEqual({
      reason: 'invalid_grant',
      message: 'Invalid JWT Signature.',
    });
    expect(readGoogleError({ error: 'invalid_grant' })).toEqual({ reason: 'invalid_grant' });
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
    expect(readGoogleError(body)).toEqual({});
  });

  it('ignores fields of the wrong type and details that are not a list', () => {
    expect(readGoogleError({ error: { status: 5, message: {}, details: { reason: 'X' } } })).toEqual({});
    expect(readGoogleError({ error: { details: [null, 'x', { reason: 7 }, { reason: 'R' }] } })).toEqual({
      reason: 'R',
    });
  });
});

describe('readGoogleError: violations', () => {
  it('collects the type of every PreconditionFailure violation', () => {
    expect(
      readGoogleError({
        error: {
          status: 'FAILED_PRECONDITION',
          details: [
            { violations: [{ type: 'constraints/a' }, { subject: 'no type' }, null] },
            { violations: 'not a list' },
            { violations: [{ type: 'constraints/b' }] },
          ],
        },
      }),
    ).toEqual({ status: 'FAILED_PRECONDITION', violations: ['constraints/a', 'constraints/b'] });
  });
});

describe('the code <-> HTTP status table', () => {
  it('reads every HTTP status of our codes back as a code with that status', () => {
    for (const [code, httpStatus] of Object.entries(HTTP_STATUS) as Array<[ErrorCode, number]>) {
      expect(HTTP_STATUS[codeForHttpStatus(httpStatus)!]).toBe(httpStatus);
      expect(codeForStatus(code)).toBe(code);
    }
  });

  it.each<[number, ErrorCode | undefined]>([
    [400, 'INVALID_ARGUMENT'],
    [409, 'ABORTED'],
    [500, 'INTERNAL'],
    [502, 'INTERNAL'],
    [503, 'UNAVAILABLE'],
    [504, 'DEADLINE_EXCEEDED'],
    [408, undefined],
    [200, undefined],
  ])('HTTP %i reads as %s', (httpStatus, code) => {
    expect(codeForHttpStatus(httpStatus)).toBe(code);
  });

  it.each<[unknown, ErrorCode | undefined]>([
    ['OUT_OF_RANGE', 'INVALID_ARGUMENT'],
    ['ALREADY_EXISTS', undefined],
    ['toString', undefined],
    [7, undefined],
  ])('status %j reads as %s', (status, code) => {
    expect(codeForStatus(status)).toBe(code);
  });
});
