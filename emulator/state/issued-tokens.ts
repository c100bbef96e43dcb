import { randomBytes } from 'node:crypto';

/** Lifetime Google gives service-account access tokens (it reports `expires_in: 3599`). */
export const ACCESS_TOKEN_LIFETIME_SECONDS = 3599;

/**
 * Expired tokens are pruned once the registry grows past this many entries, and then again only
 * after it doubled: a scan per issue would make every mint O(live tokens) once 10,000 tokens are
 * alive (they live an hour), which made the emulator the bottleneck of long mint benchmarks.
 */
export const PRUNE_ABOVE = 10_000;

/** An access token the emulator minted. */
export interface IssuedAccessToken {
  /** The opaque token (`ya29.` ...). */
  readonly value: string;
  readonly email: string;
  readonly scopes: readonly string[];
  readonly issuedAtMs: number;
  readonly expiresAtMs: number;
  /** The key whose assertion was exchanged, when minted by the jwt-bearer grant. */
  readonly keyId?: string;
  /** Which endpoint minted it, e.g. `oauth.token`, `metadata.token`. */
  readonly issuedBy: string;
  /**
   * Downscoped tokens (STS): the Credential Access Boundaries it carries; access needs every one of
   * them to allow it (one per downscoping; a token downscoped twice carries both).
   */
  readonly accessBoundaries?: readonly EmulatedAccessBoundary[];
  /** A user's token (authorization-code or refresh-token grant): whose, for which client, from which grant. */
  readonly user?: UserTokenBinding;
}

/** What ties a user's access token to the consent it came from (for tokeninfo, userinfo and revocation). */
export interface UserTokenBinding {
  readonly sub: string;
  readonly clientId: string;
  /** The user's grant to the client (revoking any token of it revokes them all). */
  readonly grantId: string;
  /** The authorization code whose exchange minted it (directly, or through its refresh token). */
  readonly codeId: string;
  readonly accessType: 'online' | 'offline';
}

/** A Credential Access Boundary as STS accepted it. */
export interface EmulatedAccessBoundary {
  readonly accessBoundaryRules: ReadonlyArray<{
    readonly availableResource: string;
    readonly availablePermissions: readonly string[];
    readonly availabilityCondition?: {
      readonly expression: string;
      readonly title?: string;
      readonly description?: string;
    };
  }>;
}

export interface IssueRequest {
  email: string;
  scopes: readonly string[];
  issuedBy: string;
  keyId?: string;
  lifetimeSeconds?: number;
  nowMs?: number;
  accessBoundaries?: readonly EmulatedAccessBoundary[];
  user?: UserTokenBinding;
  /** Start of the opaque value; default `ya29.c.` (service accounts). Google's user tokens start `ya29.a0`. */
  valuePrefix?: string;
}

/** Registry of opaque access tokens minted by any emulated endpoint. */
export class IssuedTokens {
  private readonly byValue = new Map<string, IssuedAccessToken>();
  private readonly revoked = new Set<string>();
  private pruneAbove = PRUNE_ABOVE;

  /** Mints and records a new opaque access token. */
  issue(request: IssueRequest): IssuedAccessToken {
    const nowMs = request.nowMs ?? Date.now();
    if (this.byValue.size > this.pruneAbove) {
      this.pruneExpired(nowMs);
      this.pruneAbove = Math.max(PRUNE_ABOVE, 2 * this.byValue.size);
    }
    const token: IssuedAccessToken = {
      value: `${request.valuePrefix ?? 'ya29.c.'}${randomBytes(96).toString('base64url')}`,
      email: request.email,
      scopes: [...request.scopes],
      issuedAtMs: nowMs,
      expiresAtMs: nowMs + (request.lifetimeSeconds ?? ACCESS_TOKEN_LIFETIME_SECONDS) * 1000,
      issuedBy: request.issuedBy,
      ...(request.keyId === undefined ? {} : { keyId: request.keyId }),
      ...(request.accessBoundaries === undefined ? {} : { accessBoundaries: request.accessBoundaries }),
      ...(request.user === undefined ? {} : { user: request.user }),
    };
    this.byValue.set(token.value, token);
    return token;
  }

  /** The record of a token, expired or not. */
  lookup(value: string): IssuedAccessToken | undefined {
    return this.byValue.get(value);
  }

  /** The record of a token only while it is unexpired and unrevoked at `nowMs`. */
  active(value: string, nowMs: number = Date.now()): IssuedAccessToken | undefined {
    const token = this.byValue.get(value);
    return token && token.expiresAtMs > nowMs && !this.revoked.has(value) ? token : undefined;
  }

  /** Whether the token was revoked (user tokens only: service-account tokens cannot be revoked). */
  isRevoked(value: string): boolean {
    return this.revoked.has(value);
  }

  /** Revokes every recorded token `matches` selects; returns how many were newly revoked. */
  revokeWhere(matches: (token: IssuedAccessToken) => boolean): number {
    let count = 0;
    for (const token of this.byValue.values()) {
      if (this.revoked.has(token.value) || !matches(token)) continue;
      this.revoked.add(token.value);
      count += 1;
    }
    return count;
  }

  /** All recorded tokens (for assertions in tests). */
  list(): IssuedAccessToken[] {
    return [...this.byValue.values()];
  }

  clear(): void {
    this.byValue.clear();
    this.revoked.clear();
    this.pruneAbove = PRUNE_ABOVE;
  }

  private pruneExpired(nowMs: number): void {
    for (const [value, token] of this.byValue) {
      if (token.expiresAtMs > nowMs) continue;
      this.byValue.delete(value);
      this.revoked.delete(value);
    }
  }
}
