import { CallerAuthReason, rejectCaller } from './reasons.js';

// RFC 6750 §2.1 b64token; a JWT's three base64url segments fit it too.
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
// RFC 9110 auth-scheme (a token).
const SCHEME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+/;
// Room for the scheme and separator in front of the token.
const HEADER_OVERHEAD = 64;
/** What Cloud Run writes in place of the signature of a token it will not let be replayed. */
export const REMOVED_SIGNATURE = 'SIGNATURE_REMOVED_BY_GOOGLE';

/**
 * Extracts the bearer token from an `Authorization` header value: scheme `Bearer` (any case),
 * one space, one b64token. The size is checked before anything else looks at the token.
 */
export function parseBearerHeader(header: string | undefined, maxTokenBytes: number): string {
  if (header === undefined || header.trim() === '') {
    throw rejectCaller(CallerAuthReason.MISSING, 'no Authorization header');
  }
  if (header.length > maxTokenBytes + HEADER_OVERHEAD) {
    throw rejectCaller(
      CallerAuthReason.TOO_LARGE,
      `Authorization header of ${header.length} characters exceeds the limit`,
    );
  }
  const scheme = SCHEME.exec(header)?.[0];
  if (scheme === undefined)
    throw rejectCaller(CallerAuthReason.MALFORMED, 'Authorization header does not start with a scheme');
  if (scheme.toLowerCase() !== 'bearer') {
    throw rejectCaller(
      CallerAuthReason.SCHEME_UNSUPPORTED,
      `Authorization scheme ${JSON.stringify(scheme.slice(0, 20))} is not Bearer`,
    );
  }
  const rest = header.slice(scheme.length);
  if (!rest.startsWith(' '))
    throw rejectCaller(CallerAuthReason.MALFORMED, 'Bearer scheme not followed by one space and a token');
  const token = rest.slice(1);
  checkTokenSize(token, maxTokenBytes);
  if (!B64TOKEN.test(token))
    throw rejectCaller(CallerAuthReason.MALFORMED, 'Bearer credential is not a single b64token');
  rejectRemovedSignature(token);
  return token;
}

/**
 * Refuses, with its own reason, a JWT whose signature Cloud Run replaced: an unsigned token is
 * never accepted, and this one says why it failed (Cloud Run troubleshooting, "Identity token
 * signature redacted by Google": ID tokens gcloud minted for a user account). Anyone can write this
 * form, so it is a refusal only, never a reason to trust what the platform checked.
 */
function rejectRemovedSignature(token: string): void {
  const segments = token.split('.');
  if (segments.length === 3 && segments[2] === REMOVED_SIGNATURE) {
    throw rejectCaller(
      CallerAuthReason.SIGNATURE_REMOVED,
      'the JWT signature was replaced by SIGNATURE_REMOVED_BY_GOOGLE (Cloud Run does so for ID tokens ' +
        'gcloud minted for a user account); send a service-account ID token for this audience',
    );
  }
}

/** Rejects a token above `maxTokenBytes` (UTF-8 bytes) before it is parsed. */
export function checkTokenSize(token: string, maxTokenBytes: number): void {
  // Any character is at least one byte: a cheap bound before counting.
  // Stryker disable next-line ConditionalExpression: the length test only short-cuts the byte count, which alone decides (bytes >= characters)
  if (token.length > maxTokenBytes || Buffer.byteLength(token, 'utf8') > maxTokenBytes) {
    throw rejectCaller(CallerAuthReason.TOO_LARGE, `bearer token exceeds ${maxTokenBytes} bytes`);
  }
}
