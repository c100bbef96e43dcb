import { describe, expect, it } from 'vitest';
import { IssuedTokens } from '../../../emulator/state/issued-tokens.js';
import {
  CODE_SHAPE,
  DEFAULT_CODE_LIFETIME_MS,
  MAX_REFRESH_TOKENS_PER_USER_AND_CLIENT,
  UserGrants,
  type NewCode,
} from '../../../emulator/state/user-grants.js';

const CLIENT = '1-abc.apps.googleusercontent.com';
const OTHER_CLIENT = '1-def.apps.googleusercontent.com';
const SUB = '110248495921238986420';
const DRIVE = 'https://www.googleapis.com/auth/drive.metadata.readonly';
const T0 = Date.UTC(2026, 11, 1, 10, 0, 0);

function setup(): { grants: UserGrants; tokens: IssuedTokens } {
  const tokens = new IssuedTokens();
  return { grants: new UserGrants(tokens), tokens };
}

function newCode(grants: UserGrants, overrides: Partial<NewCode> = {}): ReturnType<UserGrants['issueCode']> {
  const grant = grants.grant(
    overrides.clientId ?? CLIENT,
    overrides.sub ?? SUB,
    overrides.scopes ?? ['openid'],
  );
  return grants.issueCode({
    clientId: CLIENT,
    redirectUri: 'https://app.example/cb',
    sub: SUB,
    grantId: grant.id,
    scopes: ['openid'],
    accessType: 'offline',
    issueRefreshToken: true,
    nowMs: T0,
    ...overrides,
  });
}

function userToken(tokens: IssuedTokens, grantId: string, codeId: string): string {
  return tokens.issue({
    email: 'ada@example.com',
    scopes: ['openid'],
    issuedBy: 'oauth.token',
    nowMs: T0,
    valuePrefix: 'ya29.a0',
    user: { sub: SUB, clientId: CLIENT, grantId, codeId, accessType: 'offline' },
  }).value;
}

describe('UserGrants', () => {
  it('accumulates the scopes a user grants to one client in one live grant', () => {
    const { grants } = setup();
    const first = grants.grant(CLIENT, SUB, ['openid']);
    const second = grants.grant(CLIENT, SUB, [DRIVE]);
    expect(second.id).toBe(first.id);
    expect([...second.scopes]).toEqual(['openid', DRIVE]);
    expect(grants.grant(OTHER_CLIENT, SUB, ['openid']).id).not.toBe(first.id);
  });

  it("issues codes shaped like Google's that stop existing after the code lifetime", () => {
    const { grants } = setup();
    const code = newCode(grants);
    expect(code.value).toMatch(CODE_SHAPE);
    expect(grants.findCode(code.value, T0 + DEFAULT_CODE_LIFETIME_MS - 1)).toBe(code);
    expect(grants.findCode(code.value, T0 + DEFAULT_CODE_LIFETIME_MS)).toBeUndefined();
    // Gone for good once expired.
    expect(grants.findCode(code.value, T0)).toBeUndefined();
  });

  it('honours a shorter code lifetime set by a test', () => {
    const { grants } = setup();
    grants.codeLifetimeMs = 1000;
    const code = newCode(grants);
    expect(grants.findCode(code.value, T0 + 999)).toBe(code);
    expect(grants.findCode(code.value, T0 + 1000)).toBeUndefined();
  });

  it('invalidates the oldest refresh token of a user and client past 100, without touching other clients', () => {
    const { grants } = setup();
    const other = grants.issueRefreshToken(newCode(grants, { clientId: OTHER_CLIENT }), T0);
    const issued = Array.from({ length: MAX_REFRESH_TOKENS_PER_USER_AND_CLIENT + 1 }, (_, i) =>
      grants.issueRefreshToken(newCode(grants), T0 + i),
    );
    expect(issued[0].revoked).toBe(true);
    expect(issued.slice(1).every((r) => !r.revoked)).toBe(true);
    expect(other.revoked).toBe(false);
    expect(grants.liveRefreshTokens(issued[1].grantId)).toHaveLength(MAX_REFRESH_TOKENS_PER_USER_AND_CLIENT);
  });

  it('revokes a whole grant: the grant, its refresh tokens and its access tokens, and nothing else', () => {
    const { grants, tokens } = setup();
    const code = newCode(grants);
    const refresh = grants.issueRefreshToken(code, T0);
    const access = userToken(tokens, code.grantId, code.id);
    const otherCode = newCode(grants, { clientId: OTHER_CLIENT });
    const otherAccess = userToken(tokens, otherCode.grantId, otherCode.id);

    grants.revokeGrant(code.grantId);

    expect(grants.getGrant(code.grantId)?.revoked).toBe(true);
    expect(grants.current(CLIENT, SUB)).toBeUndefined();
    expect(refresh.revoked).toBe(true);
    expect(tokens.active(access, T0)).toBeUndefined();
    expect(tokens.isRevoked(access)).toBe(true);
    expect(tokens.active(otherAccess, T0)).toBeDefined();
    // A later consent starts a new grant.
    expect(grants.grant(CLIENT, SUB, ['openid']).id).not.toBe(code.grantId);
  });

  it('revokes only what one code issued when that code is replayed', () => {
    const { grants, tokens } = setup();
    const replayed = newCode(grants);
    const sibling = newCode(grants);
    const fromReplayed = grants.issueRefreshToken(replayed, T0);
    const fromSibling = grants.issueRefreshToken(sibling, T0);
    const accessReplayed = userToken(tokens, replayed.grantId, replayed.id);
    const accessSibling = userToken(tokens, sibling.grantId, sibling.id);

    grants.revokeIssuedFrom(replayed);

    expect(fromReplayed.revoked).toBe(true);
    expect(tokens.active(accessReplayed, T0)).toBeUndefined();
    expect(fromSibling.revoked).toBe(false);
    expect(tokens.active(accessSibling, T0)).toBeDefined();
  });
});
