import { randomBytes } from 'node:crypto';

/** Lifetime Google gives service-account access tokens (it reports `expires_in: 3599`). */
export const ACCESS_TOKEN_LIFETIME_SECONDS = 3599;

/** Prune expired tokens once the map grows past this many entries. */
const PRUNE_ABOVE = 10_000;

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
}

/** Registry of opaque access tokens minted by any emulated endpoint. */
export class IssuedTokens {
  private readonly byValue = new Map<string, IssuedAccessToken>();

  /** Mints and records a new opaque access token. */
  issue(request: IssueRequest): IssuedAccessToken {
    const nowMs = request.nowMs ?? Date.now();
    if (this.byValue.size > PRUNE_ABOVE) this.pruneExpired(nowMs);
    const token: IssuedAccessToken = {
      value: `ya29.c.${randomBytes(96).toString('base64url')}`,
      email: request.email,
      scopes: [...request.scopes],
      issuedAtMs: nowMs,
      expiresAtMs: nowMs + (request.lifetimeSeconds ?? ACCESS_TOKEN_LIFETIME_SECONDS) * 1000,
      issuedBy: request.issuedBy,
      ...(request.keyId === undefined ? {} : { keyId: request.keyId }),
      ...(request.accessBoundaries === undefined ? {} : { accessBoundaries: request.accessBoundaries }),
    };
    this.byValue.set(token.value, token);
    return token;
  }

  /** The record of a token, expired or not. */
  lookup(value: string): IssuedAccessToken | undefined {
    return this.byValue.get(value);
  }

  /** The record of a token only while it is unexpired at `nowMs`. */
  active(value: string, nowMs: number = Date.now()): IssuedAccessToken | undefined {
    const token = this.byValue.get(value);
    return token && token.expiresAtMs > nowMs ? token : undefined;
  }

  /** All recorded tokens (for assertions in tests). */
  list(): IssuedAccessToken[] {
    return [...this.byValue.values()];
  }

  clear(): void {
    this.byValue.clear();
  }

  private pruneExpired(nowMs: number): void {
    for (const [value, token] of this.byValue) if (token.expiresAtMs <= nowMs) this.byValue.delete(value);
  }
}
