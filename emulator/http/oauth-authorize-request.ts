/**
 * Validation of an authorization request (`GET /o/oauth2/v2/auth`), in Google's order: the client,
 * then the redirect URI (until both are known good, nothing may be redirected anywhere), then the
 * rest. Every refusal here is an error page (HTTP 400/401, never a redirect): Google shows its
 * "Access blocked: Authorization Error … Error 400: <error>" page for `redirect_uri_mismatch`,
 * `invalid_client`, `invalid_scope` and `invalid_request` alike (e.g. github.com/supabase/auth-js#669
 * for a bad `code_challenge_method`, github.com/emreturkmencom/antigravity-telegram-suite#40 for an
 * unknown scope). Only the user's answer travels back to the redirect URI (`access_denied`).
 */
import type { OAuthClient } from '../state/oauth-clients.js';
import type { EmulatorState } from '../state/emulator-state.js';
import type { PkceChallenge } from '../state/user-grants.js';
import { canonicalScopes, splitScopes, unknownScopes } from '../state/user-scopes.js';

export type Prompt = 'none' | 'consent' | 'select_account';

/** A request that passed validation. */
export interface AuthorizationRequest {
  readonly client: OAuthClient;
  readonly redirectUri: string;
  /** Scopes as the request spelled them. */
  readonly requested: readonly string[];
  /** The same, canonical (`email` → `…/userinfo.email`) and de-duplicated. */
  readonly scopes: readonly string[];
  readonly state: string | null;
  readonly accessType: 'online' | 'offline';
  readonly includeGrantedScopes: boolean;
  readonly prompt: ReadonlySet<Prompt>;
  readonly loginHint: string | null;
  readonly nonce: string | null;
  readonly challenge?: PkceChallenge;
}

/** What the error page says. */
export interface AuthorizationError {
  readonly status: number;
  readonly error: string;
  readonly description: string;
}

/** RFC 7636 §4.2: `code_challenge = 43*128unreserved`; an S256 challenge is a base64url SHA-256 (43). */
const PLAIN_CHALLENGE = /^[A-Za-z0-9._~-]{43,128}$/;
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
const PROMPTS: ReadonlySet<string> = new Set(['none', 'consent', 'select_account']);

const fail = (error: string, description: string, status: 400 | 401 = 400): AuthorizationError => ({
  status,
  error,
  description,
});

export function parseAuthorizationRequest(
  state: EmulatorState,
  params: URLSearchParams,
): AuthorizationRequest | AuthorizationError {
  const clientId = params.get('client_id');
  if (!clientId) return fail('invalid_request', 'Missing required parameter: client_id');
  const client = state.oauthClients.get(clientId);
  // "Error 401: invalid_client – The OAuth client was not found." (the page Google shows).
  if (!client) return fail('invalid_client', 'The OAuth client was not found.', 401);

  const redirectUri = params.get('redirect_uri');
  if (!redirectUri) return fail('invalid_request', 'Missing required parameter: redirect_uri');
  // Exact string match against the registered URIs (scheme, host, port, path, trailing slash).
  if (!client.redirectUris.includes(redirectUri))
    return fail(
      'redirect_uri_mismatch',
      `You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 policy. If you're the app developer, register the redirect URI in the Google Cloud Console. Request details: redirect_uri=${redirectUri}`,
    );

  const responseType = params.get('response_type');
  if (!responseType) return fail('invalid_request', 'Required parameter is missing: response_type');
  // Google also serves `token` and `id_token` (implicit and hybrid flows); the emulator only `code`.
  if (responseType !== 'code')
    return fail('unsupported_response_type', `Unsupported response_type: ${responseType}`);

  const requested = splitScopes(params.get('scope'));
  if (requested.length === 0) return fail('invalid_request', 'Missing required parameter: scope');
  const unknown = unknownScopes(requested);
  if (unknown.length > 0)
    return fail('invalid_scope', `Some requested scopes cannot be shown: [${unknown.join(', ')}]`);

  const accessType = params.get('access_type') ?? 'online';
  if (accessType !== 'online' && accessType !== 'offline')
    return fail(
      'invalid_request',
      `Invalid parameter value for access_type: '${accessType}' is not a valid AccessType`,
    );

  const prompt = new Set(splitScopes(params.get('prompt')));
  for (const value of prompt)
    if (!PROMPTS.has(value)) return fail('invalid_request', `Invalid parameter value for prompt: ${value}`);
  // "none: … Must not be specified with other values." (web-server guide, `prompt`).
  if (prompt.has('none') && prompt.size > 1)
    return fail('invalid_request', 'Invalid parameter value for prompt: none must be used alone');

  const challenge = parseChallenge(params);
  if ('error' in challenge) return challenge;

  return {
    client,
    redirectUri,
    requested,
    scopes: canonicalScopes(requested),
    state: params.get('state'),
    accessType,
    includeGrantedScopes: params.get('include_granted_scopes') === 'true',
    prompt: prompt as Set<Prompt>,
    loginHint: params.get('login_hint'),
    nonce: params.get('nonce'),
    ...(challenge.challenge ? { challenge: challenge.challenge } : {}),
  };
}

/**
 * `code_challenge` and `code_challenge_method` ("OAuth 2.0 for Mobile & Desktop Apps": `S256` or
 * `plain`; RFC 7636 §4.3: an absent method means `plain`). Google's text for a bad method is
 * verified ("Invalid parameter value for code_challenge_method: 's256' is not a valid
 * CodeChallengeMethod"); the texts for a missing or malformed challenge are the emulator's own.
 */
function parseChallenge(params: URLSearchParams): { challenge?: PkceChallenge } | AuthorizationError {
  const value = params.get('code_challenge');
  const method = params.get('code_challenge_method');
  if (method !== null && method !== 'S256' && method !== 'plain')
    return fail(
      'invalid_request',
      `Invalid parameter value for code_challenge_method: '${method}' is not a valid CodeChallengeMethod`,
    );
  if (value === null) {
    if (method !== null) return fail('invalid_request', 'Missing required parameter: code_challenge');
    return {};
  }
  const pkceMethod = method ?? 'plain';
  if (!(pkceMethod === 'S256' ? S256_CHALLENGE : PLAIN_CHALLENGE).test(value))
    return fail('invalid_request', `Invalid parameter value for code_challenge.`);
  return { challenge: { value, method: pkceMethod } };
}
