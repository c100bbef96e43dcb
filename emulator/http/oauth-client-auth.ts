/**
 * Client authentication at the token endpoint for the user grants: `client_id` and
 * `client_secret` in the form body (google-auth-library's default) or HTTP Basic (RFC 6749 §2.3.1,
 * its `ClientSecretBasic`). Google's answers (seen in client-library issues, e.g.
 * github.com/googleapis/google-api-php-client#2080, github.com/browserslist/browserslist-ga#12,
 * github.com/simonrob/email-oauth2-proxy#362):
 * - no client id: 400 `invalid_request` "Could not determine client ID from request."
 * - unknown client: 401 `invalid_client` "The OAuth client was not found."
 * - no secret: 400 `invalid_request` "client_secret is missing."
 * - wrong secret: 401 `invalid_client` "Unauthorized"
 */
import type { IncomingMessage } from 'node:http';
import type { EmulatorState } from '../state/emulator-state.js';
import { secretMatches, type OAuthClient } from '../state/oauth-clients.js';
import type { OAuthFailure } from './oauth-error.js';

export function authenticateClient(
  state: EmulatorState,
  req: IncomingMessage,
  form: URLSearchParams,
): { client: OAuthClient } | OAuthFailure {
  const basic = basicCredentials(req);
  const clientId = basic?.id ?? form.get('client_id');
  if (!clientId)
    return {
      status: 400,
      error: 'invalid_request',
      description: 'Could not determine client ID from request.',
    };
  const client = state.oauthClients.get(clientId);
  if (!client)
    return { status: 401, error: 'invalid_client', description: 'The OAuth client was not found.' };
  const secret = basic?.secret ?? form.get('client_secret');
  if (!secret) return { status: 400, error: 'invalid_request', description: 'client_secret is missing.' };
  if (!secretMatches(client, secret))
    return { status: 401, error: 'invalid_client', description: 'Unauthorized' };
  return { client };
}

function basicCredentials(req: IncomingMessage): { id: string; secret: string } | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(req.headers.authorization ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { id: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) };
}

/** RFC 6749 §2.3.1: both halves are form-urlencoded (clients that skip it send the same bytes for ids and secrets). */
function formDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}
