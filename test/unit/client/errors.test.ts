/** The client's canonical code for a Google `status` or an HTTP status. */
import { describe, expect, it } from 'vitest';
import { codeFor } from '../../../client/errors.js';

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
