/** Caller authentication: `Authorization: Bearer` → verified {@link CallerIdentity}. */
export { createCallerAuthenticator } from './authenticate-caller.js';
export { CallerAuthReason, CallerAuthUnavailableReason, ServerlessAuthorizationReason } from './reasons.js';
export { CALLER_TOKEN_ALGORITHMS } from './types.js';
export type {
  CallerAuthenticator,
  CallerAuthOptions,
  CallerIdentity,
  CallerTokenAlgorithm,
  IssuerConfig,
} from './types.js';
export { MAX_TOKEN_AGE_SECONDS } from './verify-id-token.js';
export { JWKS_STALE_MAX_MS } from './issuer-keys.js';
