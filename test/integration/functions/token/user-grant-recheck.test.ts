/**
 * A grant tombstoned outside this instance (another instance, or the consent function's fallback
 * when it cannot reach us) stops this instance's cached tokens within TVS_USER_GRANT_RECHECK_SECONDS.
 * Two stacks: recheck 0 s (every request reads the grant before a cached token is served) and
 * 3600 s (the cached token is served until the period ends: the bound is the setting).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADA,
  CLIENT_ID,
  DRIVE_RO,
  GRACE,
  startUserTokenStack,
  WORKLOAD,
  type UserTokenStack,
} from './support/user-token-stack.js';

const vend = (t: UserTokenStack, sub: string) =>
  t.call(WORKLOAD, `/v1/users/${sub}:generateAccessToken`, { scope: [DRIVE_RO] });

/** One stack at a time: each points the process's metadata host at its own emulator. */
function withStack(env: Record<string, string>): () => UserTokenStack {
  let t: UserTokenStack | undefined;
  beforeAll(async () => {
    t = await startUserTokenStack(env);
  });
  afterAll(async () => {
    await t?.stop();
  });
  return () => t!;
}

describe('a grant tombstoned elsewhere, recheck every request', () => {
  const stack = withStack({ TVS_USER_GRANT_RECHECK_SECONDS: '0' });

  it('refuses the cached token on the next request', async () => {
    const t = stack();
    await t.consentAndSave(ADA, [DRIVE_RO]);
    t.stack.emulator.faults.reset();
    expect((await vend(t, ADA.sub)).status).toBe(200);
    expect((await vend(t, ADA.sub)).status).toBe(200);
    expect(t.stack.emulator.faults.count('oauth.token')).toBe(1);

    // Another writer (the consent function's fallback) tombstones the grant in Firestore.
    await t.grants.revoke(CLIENT_ID, ADA.sub, 'USER');

    const after = await vend(t, ADA.sub);
    expect(after.status).toBe(400);
    expect(after.json.error.details[0]).toMatchObject({
      reason: 'USER_GRANT_REVOKED',
      metadata: { revokedReason: 'USER' },
    });
    expect(t.stack.emulator.faults.count('oauth.token')).toBe(1);
    expect((await t.stack.token.userTokens!()).cached(ADA.sub, [DRIVE_RO])).toBeUndefined();
  });
});

describe('a grant replaced elsewhere, recheck every request', () => {
  const stack = withStack({ TVS_USER_GRANT_RECHECK_SECONDS: '0' });

  it('retires tokens of the old grant when the user revoked and consented again meanwhile', async () => {
    const t = stack();
    await t.consentAndSave(GRACE, [DRIVE_RO]);
    const before = await vend(t, GRACE.sub);
    expect(before.status).toBe(200);
    // Another instance revoked, and the user consented again: a new grant, a new refresh token.
    await t.grants.revoke(CLIENT_ID, GRACE.sub, 'USER');
    await t.consentAndSave(GRACE, [DRIVE_RO]);
    t.stack.emulator.faults.reset();
    const after = await vend(t, GRACE.sub);
    expect(after.status).toBe(200);
    expect(after.json.accessToken).not.toBe(before.json.accessToken);
    expect(t.stack.emulator.faults.count('oauth.token')).toBe(1);
  });
});

describe('a grant tombstoned elsewhere, recheck hourly', () => {
  const stack = withStack({ TVS_USER_GRANT_RECHECK_SECONDS: '3600' });

  it('serves the cached token until the recheck period ends (the documented bound)', async () => {
    const t = stack();
    await t.consentAndSave(GRACE, [DRIVE_RO]);
    const first = await vend(t, GRACE.sub);
    expect(first.status).toBe(200);
    await t.grants.revoke(CLIENT_ID, GRACE.sub, 'USER');
    const cached = await vend(t, GRACE.sub);
    expect(cached.status).toBe(200);
    expect(cached.json.accessToken).toBe(first.json.accessToken);
  });
});
