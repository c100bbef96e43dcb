import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, NotFoundError } from '../../../../../shared/errors.js';
import { toHttpError } from '../../../../../shared/google-error.js';
import {
  MAX_BODY_BYTES,
  readBody,
  type FunctionRequest,
} from '../../../../../functions/token/http/request-context.js';

const JSON_TYPE = 'application/json';

function request(
  headers: Record<string, string>,
  rawBody: Buffer | undefined,
  bodyError?: string,
): FunctionRequest {
  return { headers, rawBody, ...(bodyError === undefined ? {} : { bodyError }) } as FunctionRequest;
}

function rejection(req: FunctionRequest): InvalidArgumentError {
  try {
    readBody(req, JSON_TYPE);
  } catch (err) {
    return err as InvalidArgumentError;
  }
  throw new Error('readBody accepted the body');
}

describe('readBody', () => {
  it('returns the raw bytes of a body of the expected media type', () => {
    const body = Buffer.from('{"a":1}');
    expect(readBody(request({ 'content-type': 'application/json; charset=utf-8' }, body), JSON_TYPE)).toBe(
      body,
    );
  });

  it.each([
    [
      'a body over the limit',
      request({ 'content-type': JSON_TYPE }, Buffer.alloc(MAX_BODY_BYTES + 1)),
      413,
      'REQUEST_TOO_LARGE',
    ],
    [
      'a declared length over the limit',
      request({ 'content-type': JSON_TYPE, 'content-length': String(MAX_BODY_BYTES + 1) }, Buffer.alloc(0)),
      413,
      'REQUEST_TOO_LARGE',
    ],
    [
      'a body the guard refused as too large',
      request({ 'content-type': JSON_TYPE }, undefined, 'entity.too.large'),
      413,
      'REQUEST_TOO_LARGE',
    ],
    [
      'another media type',
      request({ 'content-type': 'text/plain' }, Buffer.from('{}')),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      'a body the parser could not read',
      request({ 'content-type': JSON_TYPE }, Buffer.from('{'), 'entity.parse.failed'),
      400,
      'MALFORMED_JSON',
    ],
  ])('refuses %s with HTTP %i (%s), carried by the error itself', (_name, req, status, reason) => {
    const err = rejection(req);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err.reason).toBe(reason);
    const sent = toHttpError(err);
    expect(sent.httpStatus).toBe(status);
    expect(sent.body.error.code).toBe(status);
    expect(sent.body.error.status).toBe('INVALID_ARGUMENT');
  });
});

describe('toHttpError and the httpStatus option', () => {
  it('answers with the canonical status of the code when the error names none', () => {
    expect(toHttpError(new InvalidArgumentError('bad', { reason: 'BAD' })).httpStatus).toBe(400);
    expect(toHttpError(new NotFoundError('gone', { reason: 'GONE' })).httpStatus).toBe(404);
  });

  it("answers with the error's own status when it names one", () => {
    const sent = toHttpError(
      new InvalidArgumentError('no', { reason: 'METHOD_NOT_ALLOWED', httpStatus: 405 }),
    );
    expect(sent.httpStatus).toBe(405);
    expect(sent.body.error).toMatchObject({ code: 405, status: 'INVALID_ARGUMENT' });
  });
});
