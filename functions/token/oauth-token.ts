/**
 * `POST /v1/token`: OAuth 2.0 for callers without a Google identity.
 * - `client_credentials` (RFC 6749 §4.4), client_secret_basic or client_secret_post (§2.3.1);
 * - `urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693), subject token = an OIDC JWT
 *   from a configured issuer.
 * The target service account is named by the `service_account` extension parameter (§8.2) or,
 * in Google STS's request shape (what `external_account` credential files make every Google client
 * library send), by `audience=//tokenvending/serviceAccounts/EMAIL` (shared/sts.ts); `options` may
 * come as the libraries send it. Responses and errors are RFC 6749 §5.1/§5.2 shaped, which is also
 * STS's shape.
 */
import type { ServerResponse } from 'node:http';
import type { AuditEntry } from '../../shared/audit-log.js';
import { TvsError } from '../../shared/errors.js';
import {
  ACCESS_TOKEN_TYPE,
  ID_TOKEN_TYPE,
  JWT_TOKEN_TYPE,
  serviceAccountOfStsAudience,
  STS_AUDIENCE_PREFIX,
  TOKEN_EXCHANGE_GRANT,
} from '../../shared/sts.js';
import { asTvsError, describe } from '../../shared/google-error.js';
import { decideAndMint } from './decide.js';
import { auditCaller, failureFields, grantedEntry, writeAudit } from './decision-audit.js';
import { SERVERLESS_AUTHORIZATION_MESSAGES, ServerlessAuthorizationReason } from './auth/reasons.js';
import { readCredentialHeaders } from './http/credential-headers.js';
import { readBody, type FunctionRequest, type RequestContext } from './http/request-context.js';
import { sendJson, sendOAuthError, type OAuthErrorCode } from './http/respond.js';
import { parseServiceAccountEmail } from './http/request-schemas.js';
import { clientAddress, sourceKey } from './limits/client-source.js';
import type { PolicyCaller } from './policy/compile-policy.js';
import type { TokenServices } from './token-services.js';

export { TOKEN_EXCHANGE_GRANT };
const SUBJECT_TOKEN_TYPES = new Set([JWT_TOKEN_TYPE, ID_TOKEN_TYPE]);
/** Bound on the `options` parameter (URL-encoded JSON); the libraries send at most a project id. */
const MAX_OPTIONS_CHARS = 2048;
/** `options` keys the libraries may send: `userProject` (workforce pools), ignored here. */
const IGNORED_OPTIONS = new Set(['userProject']);
const REALM = 'Basic realm="token-vending", charset="UTF-8"';
/** Client ids the policy can hold; any other presented id is audited as malformed, not echoed. */
const CLIENT_ID_SYNTAX = /^[A-Za-z0-9_.-]{1,100}$/;

/** An RFC 6749 error on its way out. */
class OAuthError extends Error {
  constructor(
    readonly status: number,
    readonly error: OAuthErrorCode,
    readonly description: string,
    readonly reason: string,
    readonly headers: Record<string, string> = {},
    /** Log-only detail (the closest rule, the deny entry), for the audit entry. */
    readonly detail?: string,
  ) {
    super(description);
  }
}

const invalidRequest = (description: string, reason = 'INVALID_REQUEST') =>
  new OAuthError(400, 'invalid_request', description, reason);

export async function handleOAuthToken(
  deps: TokenServices,
  req: FunctionRequest,
  res: ServerResponse,
  ctx: RequestContext,
): Promise<void> {
  const now = deps.now ?? Date.now;
  /** The caller as audited: a client id is named only when well-formed. */
  let caller: PolicyCaller | undefined;
  let target: AuditEntry['target'];
  let grantType = 'unknown';
  try {
    const headers = readCredentialHeaders(req);
    const params = parseForm(req);
    grantType = params.get('grant_type') ?? '';
    const serviceAccount = targetServiceAccount(params);
    checkOptions(params.get('options'));
    const scopes = required(params, 'scope').split(' ').filter(Boolean);
    if (scopes.length === 0 || scopes.length > 64 || scopes.some((s) => !/^[\x21-\x7e]{1,512}$/.test(s))) {
      throw new OAuthError(
        400,
        'invalid_scope',
        'scope must be 1-64 space-separated scope URLs',
        'INVALID_SCOPE',
      );
    }
    // Validated and bounded above, so a denial's audit entry stays small whoever sent it.
    target = { serviceAccount, scopes, lifetimeSeconds: 3600 };

    let policyCaller: PolicyCaller;
    if (grantType === 'client_credentials') {
      const { clientId, secret } = clientCredentials(headers.authorization, params);
      // Audited as the id presented, known or not: the operator sees which ids are being tried.
      caller = { kind: 'client', clientId: CLIENT_ID_SYNTAX.test(clientId) ? clientId : '(malformed)' };
      if (headers.isServerlessAuthorizationToken(secret)) throw reusedPlatformToken(401, 'invalid_client');
      await authenticateClient(deps, clientId, secret, requestSource(deps, req));
      policyCaller = { kind: 'client', clientId };
    } else if (grantType === TOKEN_EXCHANGE_GRANT) {
      if (headers.authorization || params.has('client_id'))
        throw invalidRequest('client authentication is not used with token exchange');
      if (params.has('actor_token')) throw invalidRequest('delegation (actor_token) is not supported');
      const subjectTokenType = required(params, 'subject_token_type');
      if (!SUBJECT_TOKEN_TYPES.has(subjectTokenType))
        throw invalidRequest('subject_token_type must be urn:ietf:params:oauth:token-type:jwt or :id_token');
      const requested = params.get('requested_token_type');
      if (requested !== null && requested !== ACCESS_TOKEN_TYPE)
        throw invalidRequest('only access tokens can be requested');
      const subjectToken = required(params, 'subject_token');
      if (headers.isServerlessAuthorizationToken(subjectToken))
        throw reusedPlatformToken(400, 'invalid_grant');
      try {
        caller = await deps.verifySubjectToken(subjectToken);
      } catch (err) {
        // An issuer outage is ours to report as such (retryable), not the client's invalid grant.
        if (err instanceof TvsError && err.code === 'UNAVAILABLE') throw err;
        throw Object.assign(
          new OAuthError(400, 'invalid_grant', 'The subject token is invalid.', asTvsError(err).reason),
          { cause: err },
        );
      }
      policyCaller = caller;
    } else {
      throw new OAuthError(
        400,
        'unsupported_grant_type',
        'grant_type must be client_credentials or urn:ietf:params:oauth:grant-type:token-exchange',
        'UNSUPPORTED_GRANT_TYPE',
      );
    }

    let grant;
    try {
      grant = await decideAndMint(deps, policyCaller, {
        kind: 'access_token',
        serviceAccount,
        scopes,
        lifetimeSeconds: 3600,
      });
    } catch (err) {
      // With token exchange there is no client: a subject no rule covers is an unauthorised grant.
      if (
        grantType === TOKEN_EXCHANGE_GRANT &&
        err instanceof TvsError &&
        (err.reason === 'NO_RULE_FOR_CALLER' || err.reason === 'CALLER_DENIED')
      ) {
        throw new OAuthError(400, 'invalid_grant', err.message, err.reason, {}, err.detail);
      }
      throw err;
    }
    target.backend = grant.backend;
    const expiresIn = Math.max(0, Math.floor((grant.minted.expiresAtMs - now()) / 1000));
    sendJson(res, 200, {
      access_token: grant.minted.token,
      token_type: 'Bearer',
      expires_in: expiresIn,
      scope: scopes.join(' '),
      ...(grantType === TOKEN_EXCHANGE_GRANT ? { issued_token_type: ACCESS_TOKEN_TYPE } : {}),
    });
    writeAudit(deps.audit, ctx, now(), grantedEntry(`oauthToken:${grantType}`, caller, target, grant));
  } catch (err) {
    const e = toOAuthError(err);
    sendOAuthError(res, e.status, e.error, e.description, e.headers);
    writeAudit(deps.audit, ctx, now(), {
      decision: e.status >= 500 ? 'error' : 'denied',
      reason: e.reason,
      action: `oauthToken:${grantType.slice(0, 80)}`,
      httpStatus: e.status,
      caller: auditCaller(caller),
      target,
      ...failureFields(err, e.status >= 500 ? 'error' : 'denied'),
      detail:
        err instanceof TvsError
          ? err.detail
          : err instanceof OAuthError && err.detail !== undefined
            ? err.detail
            : (err as Error).cause
              ? describe((err as Error).cause)
              : undefined,
    });
  }
}

/**
 * The target: `service_account`, or STS's `audience` naming it; exactly one of the two. Neither
 * value is echoed in the description (a caller's typo may be a token pasted in the wrong place).
 */
function targetServiceAccount(params: URLSearchParams): string {
  const audience = params.get('audience');
  if (audience !== null && params.has('service_account'))
    throw invalidRequest('name the service account by service_account or by audience, not both');
  if (audience === null) {
    try {
      return parseServiceAccountEmail(required(params, 'service_account'));
    } catch {
      throw invalidRequest('service_account must be a service account email');
    }
  }
  const named = serviceAccountOfStsAudience(audience);
  const email = named === undefined ? undefined : validServiceAccount(named);
  if (email === undefined) {
    throw invalidRequest(
      `Invalid value for "audience": it must be ${STS_AUDIENCE_PREFIX}SERVICE_ACCOUNT_EMAIL`,
      'INVALID_AUDIENCE',
    );
  }
  return email;
}

/** The normalised email, or undefined when it is not a service account email. */
function validServiceAccount(raw: string): string | undefined {
  try {
    return parseServiceAccountEmail(raw);
  } catch {
    return undefined;
  }
}

/**
 * STS's `options`: URL-encoded JSON the libraries add for workforce pools (`userProject`, which
 * means nothing here and is ignored). Anything else is refused rather than silently dropped: a
 * caller asking for, say, an access boundary must not get an unbounded token.
 */
function checkOptions(raw: string | null): void {
  if (raw === null) return;
  const malformed = () =>
    invalidRequest(`options must be a JSON object of at most ${MAX_OPTIONS_CHARS} characters`);
  if (raw.length > MAX_OPTIONS_CHARS) throw malformed();
  let options: unknown;
  try {
    options = JSON.parse(raw);
  } catch {
    throw malformed();
  }
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw malformed();
  const unsupported = Object.keys(options).find((key) => !IGNORED_OPTIONS.has(key));
  if (unsupported !== undefined)
    throw invalidRequest(
      `option ${JSON.stringify(unsupported.slice(0, 40))} is not supported`,
      'OPTION_NOT_SUPPORTED',
    );
}

/** Parses the form body; a parameter sent twice is an error (RFC 6749 §3.2). */
function parseForm(req: FunctionRequest): URLSearchParams {
  let raw: Buffer;
  try {
    raw = readBody(req, 'application/x-www-form-urlencoded');
  } catch (err) {
    const rejected = asTvsError(err);
    throw new OAuthError(rejected.httpStatus ?? 400, 'invalid_request', rejected.message, rejected.reason);
  }
  const params = new URLSearchParams(raw.toString('utf8'));
  const seen = new Set<string>();
  for (const key of params.keys()) {
    if (seen.has(key)) throw invalidRequest(`parameter ${JSON.stringify(key.slice(0, 40))} is repeated`);
    seen.add(key);
  }
  return params;
}

function required(params: URLSearchParams, name: string): string {
  const value = params.get(name);
  if (!value) throw invalidRequest(`${name} is required`);
  return value;
}

/** The client id and secret of client_secret_basic or client_secret_post (never both). */
function clientCredentials(
  authorization: string | undefined,
  params: URLSearchParams,
): { clientId: string; secret: string } {
  if (authorization) {
    if (params.has('client_id') || params.has('client_secret'))
      throw invalidRequest('use one client authentication method, not two');
    const m = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(authorization.trim());
    const decoded = m ? Buffer.from(m[1], 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    if (colon <= 0) throw invalidClient();
    try {
      return {
        clientId: decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' ')),
        secret: decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' ')),
      };
    } catch {
      throw invalidClient();
    }
  }
  const clientId = params.get('client_id');
  const secret = params.get('client_secret');
  if (!clientId || !secret) throw invalidClient();
  return { clientId, secret };
}

/**
 * Verifies the secret against the policy's scrypt hash, throttled per client id: unknown ids are
 * derived against a dummy hash and throttled alike, so neither the answer nor its timing class
 * says whether an id exists.
 */
async function authenticateClient(
  deps: TokenServices,
  clientId: string,
  secret: string,
  source: string,
): Promise<void> {
  const result = await deps.clientAuth.authenticate(deps.policy.current(), clientId, secret, source);
  if (result.ok) return;
  if (result.reason === 'CLIENT_AUTH_OVERLOADED') {
    // Load shedding, the same for every id: no secret was checked, nothing was counted.
    throw new OAuthError(
      503,
      'temporarily_unavailable',
      'Too many client authentications in progress; retry shortly.',
      result.reason,
      { 'retry-after': String(result.retryAfterSeconds) },
    );
  }
  if (result.reason === 'CLIENT_AUTH_THROTTLED') {
    // RFC 6585 429 with Retry-After; the RFC 6749 code stays invalid_client (the authentication was refused).
    throw new OAuthError(
      429,
      'invalid_client',
      'Too many failed client authentication attempts; retry after the time in Retry-After.',
      result.reason,
      { 'retry-after': String(result.retryAfterSeconds) },
    );
  }
  throw invalidClient();
}

/** The request's source key for the per-source throttle (limits/client-source.ts: which X-Forwarded-For entry). */
function requestSource(deps: TokenServices, req: FunctionRequest): string {
  return sourceKey(clientAddress(req, deps.forwardedForTrustedHops ?? 0));
}

/** The caller credential is the X-Serverless-Authorization token: one token may not do both jobs. */
function reusedPlatformToken(status: 400 | 401, error: 'invalid_grant' | 'invalid_client'): OAuthError {
  const reason = ServerlessAuthorizationReason.REUSED;
  return new OAuthError(
    status,
    error,
    SERVERLESS_AUTHORIZATION_MESSAGES[reason],
    reason,
    status === 401 ? { 'www-authenticate': REALM } : {},
  );
}

function invalidClient(): OAuthError {
  return new OAuthError(401, 'invalid_client', 'Client authentication failed.', 'INVALID_CLIENT', {
    'www-authenticate': REALM,
  });
}

/** Policy and minting errors in RFC 6749 terms. */
function toOAuthError(err: unknown): OAuthError {
  if (err instanceof OAuthError) return err;
  const e = asTvsError(err);
  const retry: Record<string, string> =
    e.retryAfterSeconds !== undefined ? { 'retry-after': String(Math.ceil(e.retryAfterSeconds)) } : {};
  switch (e.reason) {
    case 'NO_RULE_FOR_CALLER':
    case 'CALLER_DENIED':
      return new OAuthError(400, 'unauthorized_client', e.message, e.reason);
    case 'SERVICE_ACCOUNT_NOT_ALLOWED':
    case 'SERVICE_ACCOUNT_NOT_FOUND':
    case 'SERVICE_ACCOUNT_DENIED':
      return new OAuthError(400, 'invalid_target', e.message, e.reason);
    case 'SCOPE_NOT_ALLOWED':
    case 'INVALID_SCOPE':
      return new OAuthError(400, 'invalid_scope', e.message, e.reason);
    // The subject token's claims cannot fill the rule's access boundary (client callers have none to use).
    case 'ACCESS_BOUNDARY_CLAIM_MISSING':
    case 'ACCESS_BOUNDARY_CLAIM_INVALID':
      return new OAuthError(400, 'invalid_grant', e.message, e.reason);
    case 'LIFETIME_EXCEEDS_POLICY':
    // X-Serverless-Authorization not sent once as one Bearer token, or Authorization repeated beside it.
    case ServerlessAuthorizationReason.REPEATED:
    case ServerlessAuthorizationReason.MALFORMED:
    case ServerlessAuthorizationReason.CALLER_CREDENTIAL_REPEATED:
      return new OAuthError(400, 'invalid_request', e.message, e.reason);
    default:
      // A quota (limits/caller-limits.ts): RFC 6749 has no code for it; RFC 6585's 429 with
      // Retry-After, and the closest RFC 6749 code, as for an overloaded server.
      if (e.code === 'RESOURCE_EXHAUSTED')
        return new OAuthError(429, 'temporarily_unavailable', e.message, e.reason, retry);
      if (e.code === 'UNAVAILABLE')
        return new OAuthError(503, 'temporarily_unavailable', e.message, e.reason, retry);
      return new OAuthError(500, 'server_error', 'Internal error.', e.reason);
  }
}
