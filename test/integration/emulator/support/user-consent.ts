/**
 * Helpers for the user-consent OAuth tests: a stock OAuth2Client pointed at the emulator, the
 * browser's part of the flow (follow the authorization URL once, read the 302), raw token-endpoint
 * calls for error cases, and the test-control calls.
 */
import { OAuth2Client } from 'google-auth-library';
import type { Emulator } from '../../../../emulator/index.js';

export const OPENID = 'openid';
export const EMAIL = 'https://www.googleapis.com/auth/userinfo.email';
export const PROFILE = 'https://www.googleapis.com/auth/userinfo.profile';
export const DRIVE_METADATA = 'https://www.googleapis.com/auth/drive.metadata.readonly';
export const SHEETS = 'https://www.googleapis.com/auth/spreadsheets.readonly';

export interface RegisteredClient {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly redirectUri: string;
}

/** google-auth-library's OAuth2Client with every Google URL replaced by the emulator's. */
export function stockClient(emulator: Emulator, client: RegisteredClient): OAuth2Client {
  return new OAuth2Client({
    clientId: client.clientId,
    clientSecret: client.clientSecret,
    redirectUri: client.redirectUri,
    endpoints: {
      oauth2AuthBaseUrl: emulator.authUrl,
      oauth2TokenUrl: emulator.tokenUrl,
      oauth2RevokeUrl: emulator.revokeUrl,
      tokenInfoUrl: emulator.tokeninfoUrl,
      oauth2FederatedSignonPemCertsUrl: emulator.pemCertsUrl,
      oauth2FederatedSignonJwkCertsUrl: emulator.jwksUrl,
    },
  });
}

/** What the browser sees when it opens an authorization URL. */
export interface AuthorizationAnswer {
  readonly status: number;
  /** The redirect, when the endpoint answered 302. */
  readonly location?: URL;
  readonly body: string;
}

/** Opens the authorization URL like a browser would, without following the redirect. */
export async function openAuthorizationUrl(url: string): Promise<AuthorizationAnswer> {
  const response = await fetch(url, { redirect: 'manual' });
  const location = response.headers.get('location');
  return {
    status: response.status,
    ...(location ? { location: new URL(location) } : {}),
    body: await response.text(),
  };
}

/** Opens the URL and returns the redirect's query, failing when there is no redirect. */
export async function consent(url: string): Promise<URLSearchParams> {
  const answer = await openAuthorizationUrl(url);
  if (answer.status !== 302 || !answer.location)
    throw new Error(`expected a redirect, got ${answer.status}: ${answer.body.slice(0, 300)}`);
  return answer.location.searchParams;
}

/** A form POST to the token endpoint; the JSON answer. */
export async function postToken(
  emulator: Emulator,
  form: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(emulator.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

/** A test-control call; the parsed JSON answer (or null for 204). */
export async function admin(
  emulator: Emulator,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${emulator.httpUrl}/__admin/${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, json: text === '' ? null : (JSON.parse(text) as unknown) };
}

/** Registers a client through test control. */
export async function registerClient(emulator: Emulator, redirectUri: string): Promise<RegisteredClient> {
  const { status, json } = await admin(emulator, 'POST', 'oauth/clients', { redirectUris: [redirectUri] });
  if (status !== 200) throw new Error(`client registration failed: ${status} ${JSON.stringify(json)}`);
  const { clientId, clientSecret } = json as { clientId: string; clientSecret: string };
  return { clientId, clientSecret, redirectUri };
}

/** Queues the next consent answer through test control. */
export async function queueConsent(
  emulator: Emulator,
  answer: { user: string; decision: 'approve' | 'deny'; scopes?: string[]; clientId?: string },
): Promise<void> {
  const { status } = await admin(emulator, 'POST', 'oauth/consent', answer);
  if (status !== 204) throw new Error(`queueing consent failed: ${status}`);
}

/** GET with a bearer token; status and JSON. */
export async function getWithBearer(
  url: string,
  token: string | undefined,
): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const response = await fetch(
    url,
    token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } },
  );
  return {
    status: response.status,
    json: (await response.json()) as Record<string, unknown>,
    headers: response.headers,
  };
}

/** The HTTP answer a stock client's call was refused with (its GaxiosError's response). */
export async function refusalOf(call: Promise<unknown>): Promise<{ status: number; data: unknown }> {
  const outcome = await call.then(
    () => undefined,
    (error: unknown) => error as { response?: { status: number; data: unknown } },
  );
  if (!outcome?.response)
    throw new Error(`expected an HTTP refusal, got ${outcome ? 'an error without a response' : 'success'}`);
  return { status: outcome.response.status, data: outcome.response.data };
}
