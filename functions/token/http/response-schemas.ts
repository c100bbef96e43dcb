/**
 * Response bodies of the token function as zod schemas: what docs/openapi.yaml documents
 * (scripts/openapi.ts generates it from these and request-schemas.ts) and what tests check real
 * responses against. The handlers build these bodies by hand; the schemas describe, they do not parse.
 */
import { ACCESS_TOKEN_TYPE } from '../../../shared/sts.js';
import * as z from '../../../shared/zod.js';
import { HTTP_STATUS, type ErrorCode } from '../../../shared/errors.js';
import { ERROR_DOMAIN } from '../../../shared/google-error.js';
import { OAUTH_ERROR_CODES } from './respond.js';

export const generateAccessTokenResponse = z.strictObject({
  accessToken: z.string().check(z.minLength(1), z.meta({ description: 'The access token. Never log it.' })),
  expireTime: z.iso
    .datetime({ precision: 0 })
    .check(z.meta({ description: 'RFC 3339 UTC without fractional seconds.' })),
});

export const generateIdTokenResponse = z.strictObject({
  token: z.string().check(z.minLength(1), z.meta({ description: 'The ID token (a JWT).' })),
});

/** RFC 6749 §5.1 (plus RFC 8693's `issued_token_type` for token exchange). */
export const oauthTokenResponse = z.strictObject({
  access_token: z.string().check(z.minLength(1)),
  token_type: z.literal('Bearer'),
  expires_in: z.int().check(z.minimum(0)),
  scope: z.string().check(z.meta({ description: 'Space-separated scopes granted.' })),
  issued_token_type: z
    .optional(z.literal(ACCESS_TOKEN_TYPE))
    .check(z.meta({ description: 'Token exchange only.' })),
});

/** RFC 6749 §5.2 error body of `/v1/token`. */
export const oauthErrorBody = z.strictObject({
  error: z.enum(OAUTH_ERROR_CODES),
  error_description: z.string(),
});

export const errorInfo = z.strictObject({
  '@type': z.literal('type.googleapis.com/google.rpc.ErrorInfo'),
  reason: z
    .string()
    .check(
      z.regex(/^[A-Z][A-Z0-9_]*$/),
      z.meta({ description: 'Stable UPPER_SNAKE_CASE reason to branch on.' }),
    ),
  domain: z.literal(ERROR_DOMAIN),
  metadata: z.record(z.string(), z.string()),
});

/** Google's error model (AIP-193), the error body of the IAM-compatible methods. */
export const googleErrorBody = z.strictObject({
  error: z.strictObject({
    code: z.int().check(z.meta({ description: 'The HTTP status.' })),
    message: z.string().check(z.meta({ description: 'Generic and safe to show; never a secret.' })),
    status: z.enum(Object.keys(HTTP_STATUS) as [ErrorCode, ...ErrorCode[]]),
    details: z.array(errorInfo).check(z.length(1)),
  }),
});

export const healthResponse = z.strictObject({ status: z.literal('ok') });

/** `:revokeGrant`'s answer. */
export const revokeGrantResponse = z.strictObject({
  sub: z.string(),
  revoked: z.literal(true),
  /** False when Google no longer knew the token (already revoked) or the call to Google failed (logged). */
  revokedAtGoogle: z.boolean(),
});
