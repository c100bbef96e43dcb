/**
 * OAuth 2.0 clients of the emulated project (Google Cloud console → Credentials → OAuth client
 * ID, type "Web application"): an id, a secret and the exact redirect URIs the authorization
 * endpoint accepts.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { StateError } from './state-error.js';

/** `<project number>-<id>.apps.googleusercontent.com`, the shape of Google's web client ids. */
export const CLIENT_ID = /^[0-9]{1,19}-[a-z0-9]{1,64}\.apps\.googleusercontent\.com$/;

/** A registered OAuth client. */
export interface OAuthClient {
  readonly clientId: string;
  /** `GOCSPX-…` (the prefix Google's console gives new secrets). */
  readonly clientSecret: string;
  readonly type: 'web';
  readonly displayName: string;
  /** Exact-match redirect URIs. */
  readonly redirectUris: readonly string[];
}

export interface OAuthClientInput {
  readonly clientId?: string;
  readonly clientSecret?: string;
  readonly displayName?: string;
  readonly redirectUris: readonly string[];
}

const ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';

export class OAuthClientRegistry {
  private readonly clients = new Map<string, OAuthClient>();

  constructor(private readonly projectNumber: string) {}

  /** Registers a client; ids and secrets are generated unless given. */
  create(input: OAuthClientInput): OAuthClient {
    const clientId = input.clientId ?? `${this.projectNumber}-${randomChars(32)}.apps.googleusercontent.com`;
    if (!CLIENT_ID.test(clientId))
      throw new StateError('INVALID_ARGUMENT', `Invalid client id ${clientId.slice(0, 120)}.`);
    if (this.clients.has(clientId))
      throw new StateError('ALREADY_EXISTS', `OAuth client ${clientId} already exists.`);
    if (input.redirectUris.length === 0)
      throw new StateError('INVALID_ARGUMENT', 'A web client needs at least one redirect URI.');
    for (const uri of input.redirectUris) checkRedirectUri(uri);
    const client: OAuthClient = {
      clientId,
      clientSecret: input.clientSecret ?? `GOCSPX-${randomBytes(21).toString('base64url')}`,
      type: 'web',
      displayName: input.displayName ?? '',
      redirectUris: [...input.redirectUris],
    };
    this.clients.set(clientId, client);
    return client;
  }

  get(clientId: string): OAuthClient | undefined {
    return this.clients.get(clientId);
  }

  list(): OAuthClient[] {
    return [...this.clients.values()];
  }
}

/** Constant-time comparison of a presented client secret with the client's. */
export function secretMatches(client: OAuthClient, presented: string): boolean {
  const expected = Buffer.from(client.clientSecret, 'utf8');
  const actual = Buffer.from(presented, 'utf8');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/**
 * The console's rules for a web client's redirect URI: absolute, no fragment, https — or http on
 * a loopback host (localhost, 127.0.0.1, [::1]), which the console allows for development.
 */
function checkRedirectUri(uri: string): void {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new StateError(
      'INVALID_ARGUMENT',
      `Invalid redirect URI ${uri.slice(0, 200)}: not an absolute URI.`,
    );
  }
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback))
    throw new StateError(
      'INVALID_ARGUMENT',
      `Invalid redirect URI ${uri}: must use https (http only on localhost).`,
    );
  if (uri.includes('#'))
    throw new StateError('INVALID_ARGUMENT', `Invalid redirect URI ${uri}: must not contain a fragment.`);
}

function randomChars(length: number): string {
  const bytes = randomBytes(length);
  return Array.from(bytes, (b) => ALNUM[b % ALNUM.length]).join('');
}
