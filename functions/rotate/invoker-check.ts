/**
 * Who may trigger `rotate` over HTTP: defence in depth behind Cloud Run's invoker check. The
 * caller's Google ID token (what Cloud Scheduler sends) is verified again here, by the same
 * verifier the token function uses (pinned RS256, issuer, audience, bounded skew), and its
 * verified `email` must be one of the configured invokers. A token for another audience, an
 * unverified email, or any other principal is refused, so an IAM grant made by mistake (or a
 * replayed token minted for another service) cannot start or force rotations.
 */
import { PermissionDeniedError } from '../../shared/errors.js';
import { createCallerAuthenticator } from '../token/auth/authenticate-caller.js';

const GOOGLE_ISSUER = 'https://accounts.google.com';

export interface InvokerCheckOptions {
  /** Accepted `aud` values: the rotate function's URL(s), as Cloud Scheduler's `oidc_token.audience`. */
  audiences: string[];
  /** Service-account emails allowed to call `rotate` (the Scheduler's identity). */
  invokers: string[];
  /** Google's JWKS (overridable for the emulator). */
  googleJwksUrl: string;
  clockToleranceSeconds: number;
  now?: () => number;
}

/** The verified invoker. */
export interface Invoker {
  email: string;
}

export type InvokerCheck = (authorizationHeader: string | undefined) => Promise<Invoker>;

/**
 * Builds the check once, at cold start. It throws `UnauthenticatedError` (no, malformed, expired,
 * wrongly signed or mis-addressed token), `PermissionDeniedError` with reason `ROTATE_INVOKER_NOT_ALLOWED`
 * (a valid token of someone else), or `UnavailableError` (Google's keys cannot be fetched).
 */
export function createInvokerCheck(options: InvokerCheckOptions): InvokerCheck {
  if (options.invokers.length === 0) throw new TypeError('invokers must name at least one service account');
  const allowed = new Set(options.invokers.map((email) => email.toLowerCase()));
  const auth = createCallerAuthenticator({
    issuers: [
      {
        issuer: GOOGLE_ISSUER,
        jwksUri: options.googleJwksUrl,
        audiences: options.audiences,
        algorithms: ['RS256'],
      },
    ],
    clockToleranceSeconds: options.clockToleranceSeconds,
    ...(options.now ? { now: options.now } : {}),
  });
  return async (authorizationHeader) => {
    const caller = await auth.authenticate(authorizationHeader);
    // `email` is set only when Google says it verified it (email_verified: true).
    const email = caller.email?.toLowerCase();
    if (email === undefined || !allowed.has(email)) {
      throw new PermissionDeniedError('The caller may not run rotations.', {
        reason: 'ROTATE_INVOKER_NOT_ALLOWED',
        detail: `caller ${caller.email ?? `sub ${caller.subject} (no verified email)`} is not a configured invoker`,
      });
    }
    return { email };
  };
}
