import { describe, expect, it } from 'vitest';
import { checkTokenSize, parseBearerHeader } from '../../../../../functions/token/auth/bearer-header.js';
import { CallerAuthReason } from '../../../../../functions/token/auth/reasons.js';

function rejection(run: () => unknown): { reason: string; detail: string | undefined } {
  try {
    run();
  } catch (error) {
    const e = error as { reason: string; detail: string | undefined };
    return { reason: e.reason, detail: e.detail };
  }
  throw new Error('expected a rejection');
}

describe('parseBearerHeader', () => {
  it('returns the token of a well-formed header, any case of the scheme', () => {
    expect(parseBearerHeader('Bearer abc.def-_~+/==', 100)).toBe('abc.def-_~+/==');
    expect(parseBearerHeader('bEaReR tok', 100)).toBe('tok');
  });

  it.each([
    [undefined, CallerAuthReason.MISSING, 'no Authorization header'],
    ['  ', CallerAuthReason.MISSING, 'no Authorization header'],
    [' Bearer x', CallerAuthReason.MALFORMED, 'Authorization header does not start with a scheme'],
    ['Basic dXNlcjpwdw==', CallerAuthReason.SCHEME_UNSUPPORTED, 'Authorization scheme "Basic" is not Bearer'],
    ['Bearer', CallerAuthReason.MALFORMED, 'Bearer scheme not followed by one space and a token'],
    ['Bearer  two', CallerAuthReason.MALFORMED, 'Bearer credential is not a single b64token'],
    ['Bearer a b', CallerAuthReason.MALFORMED, 'Bearer credential is not a single b64token'],
  ])('rejects %j as %s with an exact detail', (header, reason, detail) => {
    expect(rejection(() => parseBearerHeader(header, 100))).toEqual({ reason, detail });
  });

  it('quotes at most 20 characters of an unsupported scheme', () => {
    const scheme = 'S'.repeat(30);
    expect(rejection(() => parseBearerHeader(`${scheme} x`, 100)).detail).toBe(
      `Authorization scheme "${'S'.repeat(20)}" is not Bearer`,
    );
  });

  it('accepts a header of exactly maxTokenBytes + 64 characters and rejects one more', () => {
    // 64 characters of overhead are allowed; the header check happens before the token check.
    const atLimit = `Bearer ${'a'.repeat(10 + 64 - 7)}`;
    expect(atLimit.length).toBe(74);
    expect(rejection(() => parseBearerHeader(atLimit, 10))).toEqual({
      reason: CallerAuthReason.TOO_LARGE,
      detail: 'bearer token exceeds 10 bytes',
    });
    expect(rejection(() => parseBearerHeader(`${atLimit}a`, 10))).toEqual({
      reason: CallerAuthReason.TOO_LARGE,
      detail: 'Authorization header of 75 characters exceeds the limit',
    });
  });

  it('checks the header size before the scheme', () => {
    expect(rejection(() => parseBearerHeader(`Basic ${'a'.repeat(100)}`, 10)).reason).toBe(
      CallerAuthReason.TOO_LARGE,
    );
  });

  it('refuses a JWT whose signature Cloud Run replaced, with its own reason and the remedy in the detail', () => {
    expect(rejection(() => parseBearerHeader('Bearer eyJh.eyJz.SIGNATURE_REMOVED_BY_GOOGLE', 100))).toEqual({
      reason: CallerAuthReason.SIGNATURE_REMOVED,
      detail:
        'the JWT signature was replaced by SIGNATURE_REMOVED_BY_GOOGLE (Cloud Run does so for ID tokens ' +
        'gcloud minted for a user account); send a service-account ID token for this audience',
    });
    expect(CallerAuthReason.SIGNATURE_REMOVED).toBe('CALLER_CREDENTIAL_SIGNATURE_REMOVED');
  });

  it.each([
    ['two segments', 'eyJh.SIGNATURE_REMOVED_BY_GOOGLE'],
    ['four segments', 'eyJh.eyJz.SIGNATURE_REMOVED_BY_GOOGLE.x'],
    ['a signature that only ends with the marker', 'eyJh.eyJz.xSIGNATURE_REMOVED_BY_GOOGLE'],
    ['the marker in the payload', 'eyJh.SIGNATURE_REMOVED_BY_GOOGLE.c2ln'],
  ])('leaves %s to the JWT checks', (_name, token) => {
    expect(parseBearerHeader(`Bearer ${token}`, 100)).toBe(token);
  });

  it('accepts a token of exactly maxTokenBytes', () => {
    expect(parseBearerHeader(`Bearer ${'a'.repeat(10)}`, 10)).toBe('a'.repeat(10));
  });
});

describe('checkTokenSize', () => {
  it('accepts a token of exactly maxTokenBytes and rejects one character more', () => {
    expect(() => checkTokenSize('a'.repeat(10), 10)).not.toThrow();
    expect(rejection(() => checkTokenSize('a'.repeat(11), 10))).toEqual({
      reason: CallerAuthReason.TOO_LARGE,
      detail: 'bearer token exceeds 10 bytes',
    });
  });

  it('counts UTF-8 bytes, not characters', () => {
    // 5 characters, 10 bytes.
    expect(() => checkTokenSize('é'.repeat(5), 10)).not.toThrow();
    expect(rejection(() => checkTokenSize('é'.repeat(6), 11)).reason).toBe(CallerAuthReason.TOO_LARGE);
  });
});
