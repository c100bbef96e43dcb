/** The services the token function's handlers are given: `create-token-function.ts` wires the real ones. */
import type { AuditLog } from '../../shared/audit-log.js';
import type { Downscoper } from '../../shared/minting/downscoped-tokens.js';
import type { Minter } from '../../shared/minting/minter.js';
import type { SharedTier } from '../../shared/minting/shared-tier/shared-tier.js';
import type { CallerIdentity } from './auth/types.js';
import type { AcceptedAudiences } from './policy/accepted-audiences.js';
import type { CallerLimits } from './limits/caller-limits.js';
import type { ClientAuthenticator } from './oauth/client-authenticator.js';
import type { PolicyProvider } from './policy/policy-provider.js';
import type { PolicyNotifications } from './policy-notify.js';
import type { UserTokenService } from './user-grants/user-token-service.js';

export interface TokenServices {
  /** Verifies an `Authorization` header value (IAM Credentials-compatible routes). */
  authenticate(authorization: string | undefined): Promise<CallerIdentity>;
  /** `authenticate`'s answer from its cache of verified tokens, synchronously, if it has one. */
  authenticateCached?(authorization: string | undefined): CallerIdentity | undefined;
  /** Verifies an RFC 8693 subject token (an OIDC JWT from a configured issuer). */
  verifySubjectToken(token: string): Promise<CallerIdentity>;
  policy: PolicyProvider;
  /** Audiences accepted in callers' tokens: never minted as ID-token audiences. */
  acceptedAudiences: AcceptedAudiences;
  /** OAuth client_credentials: throttled scrypt verification of client secrets. */
  clientAuth: ClientAuthenticator;
  minter: Minter;
  /** Downscopes access tokens of rules with an `accessBoundary` (Google STS). */
  downscoper?: Downscoper;
  /** The minter's shared cache tier: a token on the deny list is dropped there too. */
  sharedTier?: SharedTier;
  audit: AuditLog;
  projectId?: string;
  /** Who may push policy change notifications (`POST /v1/policy:notify`); absent: nobody. */
  policyNotifications?: PolicyNotifications;
  now?: () => number;
  /** The policy's quotas per caller and rule (absent: TVS_RATE_LIMITS=off). */
  limits?: CallerLimits;
  /**
   * User-delegated tokens and grant revocation (issue 19), built on first use; absent when
   * TVS_USER_CONSENT_CLIENT_ID is unset (the user routes then answer 501 USER_TOKENS_NOT_ENABLED).
   */
  userTokens?: () => Promise<UserTokenService>;
  /** X-Forwarded-For entries our own proxies append after Google's front end (default 0). */
  forwardedForTrustedHops?: number;
}
