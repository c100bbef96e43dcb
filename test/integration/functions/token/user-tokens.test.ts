/**
 * User-delegated tokens end to end (issue 19): a user consents through the emulated Google (stock
 * OAuth2Client, PKCE) and the grant is sealed in the emulated Firestore; the token function vends
 * that user's access tokens by policy over real sockets, refreshes once for a burst, tombstones the
 * grant on Google's invalid_grant, revokes on an admin's request, and writes one audit entry per
 * decision. Neither the refresh token nor any access token appears in any log line.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { getWithBearer } from '../../emulator/support/user-consent.js';
import {
  ADA,
  CLIENT_ID,
  CONSENT,
  DRIVE_META,
  DRIVE_RO,
  GRACE,
  LINUS,
  QUOTA,
  SHEETS,
  startUserTokenStack,
  STRANGER,
  WORKLOAD,
  type UserTokenStack,
} from './support/user-token-stack.js';

let t: UserTokenStack;
/** Every secret handed out or stored during the run: none may be logged. */
const secrets: string[] = [];

beforeAll(async () => {
  t = await startUserTokenStack();
});

afterAll(async () => {
  await t?.stop();
});

beforeEach(() => {
  t.stack.emulator.faults.reset();
});

const vend = (caller: string, sub: string, scope: string[]) =>
  t.call(caller, `/v1/users/${sub}:generateAccessToken`, { scope });

function reasonOf(json: any): string {
  return json.error.details[0].reason;
}

function entriesFor(action: string, sub: string) {
  return t.audit.entries().filter((e) => e.action === action && e.target?.user?.sub === sub);
}

describe('vending a user access token', () => {
  it('gives an allowed workload the user token, which Google accepts for the user', async () => {
    secrets.push(await t.consentAndSave(ADA, [DRIVE_RO, DRIVE_META]));
    const answer = await vend(WORKLOAD, ADA.sub, [DRIVE_META]);
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ accessToken: expect.any(String), expireTime: expect.stringMatching(/Z$/) });
    secrets.push(answer.json.accessToken);
    const about = await getWithBearer(
      `${t.stack.emulator.httpUrl}/drive/v3/about?fields=user`,
      answer.json.accessToken,
    );
    expect(about.status).toBe(200);
    expect((about.json.user as { emailAddress: string }).emailAddress).toBe(ADA.email);

    const [entry] = entriesFor('generateUserAccessToken', ADA.sub);
    expect(entry).toMatchObject({
      decision: 'granted',
      httpStatus: 200,
      rule: 'workload-reads-drive',
      cacheHit: false,
      caller: { email: WORKLOAD },
      target: { user: { sub: ADA.sub, email: ADA.email }, scopes: [DRIVE_META] },
      tokenFingerprint: expect.stringMatching(/^sha256:/),
    });
  });

  it('refuses a caller no rule names with the same answer whether or not the user exists', async () => {
    const existing = await vend(STRANGER, ADA.sub, [DRIVE_META]);
    const missing = await vend(STRANGER, '100000000000000000999', [DRIVE_META]);
    // An allowed caller asking for a user its email rule cannot name before the grant is read.
    const unknownToAllowed = await vend(WORKLOAD, '100000000000000000999', [DRIVE_META]);
    for (const answer of [existing, missing, unknownToAllowed]) {
      expect(answer.status).toBe(403);
      expect(answer.json).toEqual(existing.json);
    }
    expect(reasonOf(existing.json)).toBe('USER_TOKEN_NOT_ALLOWED');
    expect(entriesFor('generateUserAccessToken', '100000000000000000999')).toHaveLength(2);
  });

  it('refuses scopes the user did not consent to, after the policy allowed the caller', async () => {
    const answer = await vend(WORKLOAD, ADA.sub, [DRIVE_RO, SHEETS]);
    expect(answer.status).toBe(403);
    expect(reasonOf(answer.json)).toBe('SCOPE_NOT_CONSENTED');
    expect(t.stack.emulator.faults.count('oauth.token')).toBe(0);
  });

  it('answers 404 USER_GRANT_NOT_FOUND to a caller allowed by sub when the user has no grant', async () => {
    const answer = await vend(WORKLOAD, LINUS.sub, [DRIVE_RO]);
    expect(answer.status).toBe(404);
    expect(reasonOf(answer.json)).toBe('USER_GRANT_NOT_FOUND');
  });

  it('refreshes exactly once at Google for a burst of concurrent requests', async () => {
    secrets.push(await t.consentAndSave(GRACE, [DRIVE_RO]));
    t.stack.emulator.faults.reset();
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => vend(WORKLOAD, GRACE.sub, [DRIVE_RO])),
    );
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    expect(new Set(answers.map((a) => a.json.accessToken)).size).toBe(1);
    secrets.push(answers[0].json.accessToken);
    expect(t.stack.emulator.faults.count('oauth.token')).toBe(1);
  });

  it('tombstones the grant when Google answers invalid_grant, and says so now and later', async () => {
    const refreshToken = await t.consentAndSave(ADA, [DRIVE_RO, DRIVE_META, SHEETS]);
    secrets.push(refreshToken);
    // The user removes the app in their Google Account; this instance's cached tokens expire.
    const revoked = await fetch(`${t.stack.emulator.httpUrl}/__admin/oauth/revoke-grant`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ clientId: CLIENT_ID, user: ADA.email }),
    });
    expect(revoked.status).toBe(204);
    // This instance's cached tokens expire (as an hour would do).
    (await t.stack.token.userTokens!()).cache.clear();

    const first = await vend(WORKLOAD, ADA.sub, [SHEETS]);
    expect(first.status).toBe(400);
    expect(first.json.error.status).toBe('FAILED_PRECONDITION');
    expect(first.json.error.details[0]).toMatchObject({
      reason: 'USER_GRANT_REVOKED',
      metadata: { revokedReason: 'GOOGLE_INVALID_GRANT' },
    });
    const doc = JSON.stringify(t.rawGrant(ADA.sub));
    expect(doc).toContain('GOOGLE_INVALID_GRANT');
    expect(doc).not.toContain('"sealed"');
    expect(doc).not.toContain('"dekId"');
    for (const spelling of spellings(refreshToken)) expect(doc).not.toContain(spelling);

    const again = await vend(WORKLOAD, ADA.sub, [DRIVE_RO]);
    expect(again.status).toBe(400);
    expect(again.json).toEqual(first.json);
  });
});

describe('admin revocation', () => {
  it('revokes at Google, tombstones, drops cached tokens and audits caller, user and reason', async () => {
    const refreshToken = await t.consentAndSave(GRACE, [DRIVE_RO]);
    secrets.push(refreshToken);
    const before = await vend(WORKLOAD, GRACE.sub, [DRIVE_RO]);
    expect(before.status).toBe(200);
    secrets.push(before.json.accessToken);

    const refused = await t.call(WORKLOAD, `/v1/users/${GRACE.sub}:revokeGrant`, {});
    expect(refused.status).toBe(403);
    expect(reasonOf(refused.json)).toBe('USER_GRANT_REVOKE_NOT_ALLOWED');

    const answer = await t.call(CONSENT, `/v1/users/${GRACE.sub}:revokeGrant`, { reason: 'ADMIN' });
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ sub: GRACE.sub, revoked: true, revokedAtGoogle: true });
    const atGoogle = await fetch(
      `${t.stack.emulator.httpUrl}/__admin/oauth/grants?clientId=${encodeURIComponent(CLIENT_ID)}&user=${GRACE.email}`,
    ).then((r) => r.json() as Promise<{ grants: Array<{ revoked: boolean }> }>);
    expect(atGoogle.grants.length).toBeGreaterThan(0);
    expect(atGoogle.grants.every((g) => g.revoked)).toBe(true);

    const entry = entriesFor('revokeUserGrant', GRACE.sub).find((e) => e.httpStatus === 200);
    expect(entry).toMatchObject({
      decision: 'done',
      caller: { email: CONSENT },
      target: { user: { sub: GRACE.sub }, revokedReason: 'ADMIN', revokedAtGoogle: true },
    });

    // The cached token is gone: the next vend reads the tombstone.
    const after = await vend(WORKLOAD, GRACE.sub, [DRIVE_RO]);
    expect(after.status).toBe(400);
    expect(after.json.error.details[0].metadata).toEqual({ revokedReason: 'ADMIN' });

    const twice = await t.call(CONSENT, `/v1/users/${GRACE.sub}:revokeGrant`, { reason: 'USER' });
    expect(twice.json).toEqual({ sub: GRACE.sub, revoked: true, revokedAtGoogle: false });
    const none = await t.call(CONSENT, `/v1/users/100000000000000000998:revokeGrant`, {});
    expect(none.status).toBe(404);
    expect(reasonOf(none.json)).toBe('USER_GRANT_NOT_FOUND');
  });
});

describe('revocation reasons', () => {
  it('lets an admin entry record only the reasons it lists (default ADMIN: "the user revoked" is not an operator\'s to say)', async () => {
    const user = '100000000000000000555';
    const asUser = await t.call(STRANGER, `/v1/users/${user}:revokeGrant`, { reason: 'USER' });
    expect(asUser.status).toBe(403);
    expect(reasonOf(asUser.json)).toBe('USER_GRANT_REVOKE_NOT_ALLOWED');
    const asAdmin = await t.call(STRANGER, `/v1/users/${user}:revokeGrant`, { reason: 'ADMIN' });
    expect(asAdmin.status).toBe(404);
    expect(reasonOf(asAdmin.json)).toBe('USER_GRANT_NOT_FOUND');
  });
});

describe('quotas', () => {
  it('answers 429 with Retry-After past the per-user request quota', async () => {
    secrets.push(await t.consentAndSave({ email: 'ada@example.com', sub: ADA.sub }, [DRIVE_RO]));
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await vend(QUOTA, ADA.sub, [DRIVE_RO]));
    expect(answers.slice(0, 3).map((a) => a.status)).toEqual([200, 200, 200]);
    expect(answers[3].status).toBe(429);
    expect(reasonOf(answers[3].json)).toBe('USER_RATE_LIMITED');
    expect(Number(answers[3].headers.get('retry-after'))).toBeGreaterThan(0);
    secrets.push(answers[0].json.accessToken);
  });
});

describe('logs', () => {
  it('never hold a refresh token or an access token', async () => {
    expect(secrets.length).toBeGreaterThan(5);
    await t.stack.token.flushAudit();
    const everything = t.audit.text() + t.ops.text();
    for (const secret of secrets)
      for (const spelling of spellings(secret)) expect(everything).not.toContain(spelling);
  });
});

function spellings(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  return [secret, bytes.toString('base64'), bytes.toString('base64url'), bytes.toString('hex')];
}
