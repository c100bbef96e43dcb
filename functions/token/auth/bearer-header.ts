import { CallerAuthReason, rejectCaller } from './reasons.js';

// RFC 6750 §2.1 b64token; a JWT's three base64url segments fit it too.
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
// RFC 9110 auth-scheme (a token).
const SCHEME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+/;
// Room for the scheme and separator in front of the token.
const HEADER_OVERHEAD = 64;

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
  return token;
}

/** Rejects a token above `maxTokenBytes` (UTF-8 bytes) before it is parsed. */
export function checkTokenSize(token: string, maxTokenBytes: number): void {
  // Any character is at least one byte: a cheap bound before counting.
  // Stryker disable next-line ConditionalExpression: the length test only short-cuts the byte count, which alone decides (bytes >= characters)
  if (token.length > maxTokenBytes || Buffer.byteLength(token, 'utf8') > maxTokenBytes) {
    throw rejectCaller(CallerAuthReason.TOO_LARGE, `bearer token exceeds ${maxTokenBytes} bytes`);
  }
}
