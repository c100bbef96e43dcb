import { describe, expect, it } from 'vitest';
import {
  CALLER_CREDENTIAL_INVALID_MESSAGE,
  CALLER_CREDENTIAL_MISSING_MESSAGE,
  CALLER_CREDENTIAL_UNVERIFIABLE_MESSAGE,
  CallerAuthReason,
  CallerAuthUnavailableReason,
  quoteForDetail,
  rejectCaller,
  verificationUnavailable,
} from '../../../../../functions/token/auth/reasons.js';
import { UnauthenticatedError, UnavailableError } from '../../../../../shared/errors.js';

describe('rejectCaller', () => {
  it('gives a missing credential its own message and no cause', () => {
    const error = rejectCaller(CallerAuthReason.MISSING, 'no Authorization header');
    expect(error).toBeInstanceOf(UnauthenticatedError);
    expect(error.message).toBe(CALLER_CREDENTIAL_MISSING_MESSAGE);
    expect(error.reason).toBe('CALLER_CREDENTIAL_MISSING');
    expect(error.detail).toBe('no Authorization header');
    expect(error.cause).toBeUndefined();
    expect('cause' in error).toBe(false);
  });

  it('gives every other reason the generic invalid message and keeps a cause', () => {
    const cause = new Error('bad signature');
    const error = rejectCaller(CallerAuthReason.SIGNATURE_INVALID, 'signature check failed', cause);
    expect(error.message).toBe(CALLER_CREDENTIAL_INVALID_MESSAGE);
    expect(error.reason).toBe('CALLER_CREDENTIAL_SIGNATURE_INVALID');
    expect(error.detail).toBe('signature check failed');
    expect(error.cause).toBe(cause);
  });
});

describe('verificationUnavailable', () => {
  it('is an UnavailableError with the retry message, without a cause when none is given', () => {
    const error = verificationUnavailable(CallerAuthUnavailableReason.ISSUER_KEYS_UNAVAILABLE, 'jwks down');
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error.message).toBe(CALLER_CREDENTIAL_UNVERIFIABLE_MESSAGE);
    expect(error.reason).toBe('ISSUER_KEYS_UNAVAILABLE');
    expect(error.detail).toBe('jwks down');
    expect('cause' in error).toBe(false);
  });

  it('keeps the cause when one is given', () => {
    const cause = new Error('ECONNRESET');
    const error = verificationUnavailable(CallerAuthUnavailableReason.TOKENINFO_UNAVAILABLE, 'x', cause);
    expect(error.reason).toBe('TOKENINFO_UNAVAILABLE');
    expect(error.cause).toBe(cause);
  });
});

describe('quoteForDetail', () => {
  it('JSON-quotes a value', () => {
    expect(quoteForDetail('kid-1')).toBe('"kid-1"');
    expect(quoteForDetail(42)).toBe('42');
  });

  it('falls back to String() for what JSON cannot represent', () => {
    expect(quoteForDetail(undefined)).toBe('undefined');
  });

  it('keeps text of exactly maxLength and truncates longer text with an ellipsis', () => {
    expect(quoteForDetail('abc', 5)).toBe('"abc"');
    expect(quoteForDetail('abcd', 5)).toBe('"abcd…');
    expect(quoteForDetail('x'.repeat(200))).toBe(`"${'x'.repeat(119)}…`);
  });
});
