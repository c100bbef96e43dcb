/** Caller authentication: `Authorization: Bearer` → verified {@link CallerIdentity}. */
export { createCallerAuthenticator } from './authenticate-caller.js';
export { CallerAuthReason, CallerAuthUnavailableReason } from './reasons.js';
export { CALLER_TOKEN_ALGORITHMS } from './types.js';
export type { CallerAuthenticator, CallerAuthOptions, CallerIdentity, CallerTokenAlgorithm, IssuerConfig } from './types.js';
