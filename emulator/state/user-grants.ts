/**
 * Users' grants to OAuth clients, the authorization codes that carry a consent to the token
 * endpoint, and the refresh tokens minted from them.
 *
 * Google's model, as "Using OAuth 2.0 for Web Server Applications" (developers.google.com/identity/
 * protocols/oauth2/web-server) describes it:
 * - One *combined authorization* per user and client: scopes the user granted accumulate, and with
 *   `include_granted_scopes=true` a new token covers all of them (incremental authorization).
 * - Revoking any token of a combined authorization revokes the whole authorization: every refresh
 *   token and access token of that user for that client.
 * - At most 100 refresh tokens per Google Account per OAuth client: the 101st silently invalidates
 *   the oldest ("Refresh token expiration" in the same guide).
 * - A refresh token comes back only with `access_type=offline`, and only when the user was shown
 *   the consent screen (the first consent, new scopes, or `prompt=consent`).
 *
 * Codes: single use and short-lived. Google documents no lifetime; RFC 6749 §4.1.2 recommends at
 * most 10 minutes, which the emulator uses (`codeLifetimeMs`, changeable by tests).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { IssuedAccessToken, IssuedTokens } from './issued-tokens.js';

export const DEFAULT_CODE_LIFETIME_MS = 10 * 60 * 1000;
export const MAX_REFRESH_TOKENS_PER_USER_AND_CLIENT = 100;

/** Google's codes look like `4/0A…` (base64url after the prefix); anything else is malformed. */
export const CODE_SHAPE = /^4\/0A[A-Za-z0-9_-]{20,}$/;

export interface PkceChallenge {
  readonly value: string;
  readonly method: 'S256' | 'plain';
}

/** A user's combined authorization for one client. */
export interface UserGrant {
  readonly id: string;
  readonly clientId: string;
  readonly sub: string;
  /** Canonical scopes granted so far. */
  readonly scopes: Set<string>;
  revoked: boolean;
}

export interface AuthorizationCode {
  readonly id: string;
  readonly value: string;
  readonly clientId: string;
  readonly redirectUri: string;
  readonly sub: string;
  readonly grantId: string;
  /** Scopes of the tokens the exchange mints. */
  readonly scopes: readonly string[];
  readonly challenge?: PkceChallenge;
  readonly accessType: 'online' | 'offline';
  /** Whether the exchange returns a refresh token (offline access, consent screen shown). */
  readonly issueRefreshToken: boolean;
  readonly nonce?: string;
  readonly expiresAtMs: number;
  used: boolean;
}

export interface RefreshTokenRecord {
  readonly value: string;
  readonly clientId: string;
  readonly sub: string;
  readonly grantId: string;
  readonly codeId: string;
  readonly scopes: readonly string[];
  readonly issuedAtMs: number;
  revoked: boolean;
}

/** What a new authorization code is made of: everything but what `UserGrants` assigns. */
export type NewCode = Omit<AuthorizationCode, 'id' | 'value' | 'expiresAtMs' | 'used'> & {
  readonly nowMs?: number;
};

export class UserGrants {
  /** How long a code can be exchanged. */
  codeLifetimeMs = DEFAULT_CODE_LIFETIME_MS;
  private readonly grants = new Map<string, UserGrant>();
  private readonly codes = new Map<string, AuthorizationCode>();
  private readonly refreshTokens = new Map<string, RefreshTokenRecord>();

  constructor(private readonly tokens: IssuedTokens) {}

  /** The live grant of `sub` to `clientId`, if any. */
  current(clientId: string, sub: string): UserGrant | undefined {
    return [...this.grants.values()].find((g) => g.clientId === clientId && g.sub === sub && !g.revoked);
  }

  /** Adds scopes to the user's live grant (a new grant when there is none); returns it. */
  grant(clientId: string, sub: string, scopes: Iterable<string>): UserGrant {
    let grant = this.current(clientId, sub);
    if (!grant) {
      grant = { id: randomUUID(), clientId, sub, scopes: new Set(), revoked: false };
      this.grants.set(grant.id, grant);
    }
    for (const scope of scopes) grant.scopes.add(scope);
    return grant;
  }

  getGrant(id: string): UserGrant | undefined {
    return this.grants.get(id);
  }

  listGrants(): UserGrant[] {
    return [...this.grants.values()];
  }

  issueCode(request: NewCode): AuthorizationCode {
    const { nowMs = Date.now(), ...fields } = request;
    const code: AuthorizationCode = {
      ...fields,
      id: randomUUID(),
      value: `4/0A${randomBytes(54).toString('base64url')}`,
      expiresAtMs: nowMs + this.codeLifetimeMs,
      used: false,
    };
    this.codes.set(code.value, code);
    return code;
  }

  /** The code, used or not, while it is unexpired; undefined when unknown or expired. */
  findCode(value: string, nowMs: number = Date.now()): AuthorizationCode | undefined {
    const code = this.codes.get(value);
    if (!code) return undefined;
    if (code.expiresAtMs <= nowMs) {
      this.codes.delete(value);
      return undefined;
    }
    return code;
  }

  /**
   * Mints a refresh token for an exchanged code; past the per-user-and-client limit the oldest
   * live one is invalidated without notice (as Google does).
   */
  issueRefreshToken(code: AuthorizationCode, nowMs: number = Date.now()): RefreshTokenRecord {
    const record: RefreshTokenRecord = {
      value: `1//0${randomBytes(75).toString('base64url')}`,
      clientId: code.clientId,
      sub: code.sub,
      grantId: code.grantId,
      codeId: code.id,
      scopes: [...code.scopes],
      issuedAtMs: nowMs,
      revoked: false,
    };
    this.refreshTokens.set(record.value, record);
    const live = [...this.refreshTokens.values()]
      .filter((r) => !r.revoked && r.clientId === code.clientId && r.sub === code.sub)
      .sort((a, b) => a.issuedAtMs - b.issuedAtMs);
    for (const old of live.slice(0, Math.max(0, live.length - MAX_REFRESH_TOKENS_PER_USER_AND_CLIENT)))
      old.revoked = true;
    return record;
  }

  /** A refresh token's record, revoked or not. */
  findRefreshToken(value: string): RefreshTokenRecord | undefined {
    return this.refreshTokens.get(value);
  }

  /** Live refresh tokens of a grant (for assertions; never served to any caller). */
  liveRefreshTokens(grantId: string): RefreshTokenRecord[] {
    return [...this.refreshTokens.values()].filter((r) => r.grantId === grantId && !r.revoked);
  }

  /**
   * Revokes a whole combined authorization: the grant, its refresh tokens and its access tokens.
   * A later consent starts a new grant.
   */
  revokeGrant(grantId: string): void {
    const grant = this.grants.get(grantId);
    if (grant) grant.revoked = true;
    for (const record of this.refreshTokens.values()) if (record.grantId === grantId) record.revoked = true;
    this.tokens.revokeWhere((t) => t.user?.grantId === grantId);
  }

  /**
   * Revokes what one code's exchange issued: its refresh token and every access token minted from
   * the code or that refresh token. RFC 6749 §4.1.2: a code used twice SHOULD revoke "all tokens
   * previously issued based on that authorization code".
   */
  revokeIssuedFrom(code: AuthorizationCode): void {
    for (const record of this.refreshTokens.values()) if (record.codeId === code.id) record.revoked = true;
    this.tokens.revokeWhere((t) => t.user?.codeId === code.id);
  }

  /** The live grant a user's access token belongs to, if the token is a user's and still active. */
  grantOfToken(token: IssuedAccessToken): UserGrant | undefined {
    const grant = token.user ? this.grants.get(token.user.grantId) : undefined;
    return grant && !grant.revoked ? grant : undefined;
  }
}
