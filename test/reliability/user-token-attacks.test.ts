/**
 * Attacks on user-token vending (issue 19), over real sockets against the emulator: scope escalation
 * beyond consent or policy, `{sub}` path injection, a caller asking for a user its rule does not
 * name, and the replay of a revoked grant's refresh token. None of them gets a token, none makes
 * Google refresh anything, and the refusals give nothing away about who consented.
 */
import { grantPath } from '../../shared/user-grants/grant-document.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { postToken } from '../integration/emulator/support/user-consent.js';
import {
  ADA,
  CLIENT_ID,
  CONSENT,
  DRIVE_META,
  DRIVE_RO,
  GRACE,
  LINUS,
  SHEETS,
  startUserTokenStack,
  WORKLOAD,
  type UserTokenStack,
} from '../integration/functions/token/support/user-token-stack.js';

let t: UserTokenStack;
let adaRefreshToken: string;

beforeAll(async () => {
  t = await startUserTokenStack();
  adaRefreshToken = await t.consentAndSave(ADA, [DRIVE_META]);
  await t.consentAndSave(LINUS, [DRIVE_RO]);
});

afterAll(async () => {
  await t?.stop();
});

beforeEach(() => {
  t.stack.emulator.faults.reset();
});

const reasonOf = (json: any): string => json.error.details[0].reason;

async function raw(path: string, email = WORKLOAD) {
  const response = await fetch(`${t.stack.tokenUrl}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await t.idTokenOf(email)}`, 'content-type': 'application/json' },
    body: JSON.stringify({ scope: [DRIVE_META] }),
  });
  const text = await response.text();
  // Express (under functions-framework) refuses a malformed percent-escape itself, in HTML, before any handler.
  return { status: response.status, json: text.startsWith('{') ? JSON.parse(text) : undefined };
}

describe('scope escalation', () => {
  it.each([
    ['a scope consented to no one', [DRIVE_META, SHEETS], 'SCOPE_NOT_CONSENTED', 403],
    ['a scope beyond the rule', [DRIVE_META, 'https://mail.google.com/'], 'USER_TOKEN_NOT_ALLOWED', 403],
    ['a wildcard-looking scope', ['https://www.googleapis.com/auth/*'], 'USER_TOKEN_NOT_ALLOWED', 403],
    ['a scope with a space smuggled in', [`${DRIVE_META} ${SHEETS}`], 'INVALID_REQUEST_FIELD', 400],
  ])('refuses %s and refreshes nothing', async (_name, scope, reason, status) => {
    const answer = await t.call(WORKLOAD, `/v1/users/${ADA.sub}:generateAccessToken`, { scope });
    expect(answer.status).toBe(status);
    expect(reasonOf(answer.json)).toBe(reason);
    expect(t.stack.emulator.faults.count('oauth.token')).toBe(0);
  });
});

describe('sub path injection', () => {
  it.each([
    ['a dot-dot segment', `/v1/users/..:generateAccessToken`],
    ['an encoded slash', `/v1/users/${ADA.sub}%2F..%2F${LINUS.sub}:generateAccessToken`],
    ['encoded dots', `/v1/users/%2e%2e:generateAccessToken`],
    ['an encoded colon', `/v1/users/${ADA.sub}%3ArevokeGrant:generateAccessToken`],
    ['a very long sub', `/v1/users/${'1'.repeat(300)}:generateAccessToken`],
    ['a non-digit sub', `/v1/users/ada@example.com:generateAccessToken`],
    ['a policy-shaped sub', `/v1/users/sub:${ADA.sub}:generateAccessToken`],
    ['a NUL byte', `/v1/users/${ADA.sub}%00:generateAccessToken`],
    ['a malformed escape', `/v1/users/%E0%A4%A:generateAccessToken`],
    ['a path after the verb', `/v1/users/${ADA.sub}:generateAccessToken/x`],
  ])('refuses %s without reading a grant', async (_name, path) => {
    const answer = await raw(path);
    expect([400, 404]).toContain(answer.status);
    if (answer.json !== undefined || answer.status !== 400)
      expect(['INVALID_USER_ID', 'PATH_NOT_FOUND']).toContain(reasonOf(answer.json));
    expect(t.stack.emulator.faults.count('firestore.get')).toBe(0);
    expect(t.stack.emulator.faults.count('oauth.token')).toBe(0);
  });
});

describe("another user's token", () => {
  it('refuses a user the rule does not name exactly as a user who never consented', async () => {
    // LINUS has a grant, but the workload's email rule covers only @example.com (and its sub rule only drive.readonly).
    const other = await t.call(WORKLOAD, `/v1/users/${LINUS.sub}:generateAccessToken`, {
      scope: [DRIVE_META],
    });
    const nobody = await t.call(WORKLOAD, `/v1/users/100000000000000000777:generateAccessToken`, {
      scope: [DRIVE_META],
    });
    expect(other.status).toBe(403);
    expect(reasonOf(other.json)).toBe('USER_TOKEN_NOT_ALLOWED');
    expect(nobody).toEqual(other);
    expect(t.stack.emulator.faults.count('oauth.token')).toBe(0);
  });

  it('refuses an admin route to a workload whether or not the user exists', async () => {
    const existing = await t.call(WORKLOAD, `/v1/users/${ADA.sub}:revokeGrant`, {});
    const missing = await t.call(WORKLOAD, `/v1/users/100000000000000000777:revokeGrant`, {});
    expect(existing.status).toBe(403);
    expect(missing.json).toEqual(existing.json);
    expect(t.stack.emulator.faults.count('oauth.revoke')).toBe(0);
  });
});

describe('replay of a revoked grant', () => {
  it('gets nothing from a refresh token that was revoked, even when it is stored again', async () => {
    const revoked = await t.call(CONSENT, `/v1/users/${ADA.sub}:revokeGrant`, { reason: 'USER' });
    expect(revoked.json).toEqual({ sub: ADA.sub, revoked: true, revokedAtGoogle: true });

    // Straight at Google: dead.
    const direct = await postToken(t.stack.emulator, {
      grant_type: 'refresh_token',
      refresh_token: adaRefreshToken,
      client_id: CLIENT_ID,
      client_secret: t.client.clientSecret,
    });
    expect(direct.status).toBe(400);
    expect(direct.json.error).toBe('invalid_grant');

    const tombstoned = await t.call(WORKLOAD, `/v1/users/${ADA.sub}:generateAccessToken`, {
      scope: [DRIVE_META],
    });
    expect(tombstoned.status).toBe(400);
    expect(tombstoned.json.error.details[0].metadata).toEqual({ revokedReason: 'USER' });

    // Someone with write access to the grants stores the old token again: Google refuses it, the
    // grant is tombstoned again, and the caller learns the stable reason.
    await t.grants.save({
      sub: ADA.sub,
      email: ADA.email,
      clientId: CLIENT_ID,
      scopes: [DRIVE_META],
      refreshToken: adaRefreshToken,
    });
    const replayed = await t.call(WORKLOAD, `/v1/users/${ADA.sub}:generateAccessToken`, {
      scope: [DRIVE_META],
    });
    expect(replayed.status).toBe(400);
    expect(replayed.json.error.details[0]).toMatchObject({
      reason: 'USER_GRANT_REVOKED',
      metadata: { revokedReason: 'GOOGLE_INVALID_GRANT' },
    });
    expect(JSON.stringify(t.rawGrant(ADA.sub))).not.toContain('"sealed"');
    await t.stack.token.flushAudit();
    expect(t.audit.text() + t.ops.text()).not.toContain(adaRefreshToken);
  });
});

describe('a grant whose stored scopes were widened behind our back (Firestore write access only)', () => {
  it('gets no token for the added scope: the refresh asks for it and the token endpoint refuses to widen the grant', async () => {
    await t.consentAndSave(GRACE, [DRIVE_RO]);
    t.stack.emulator.faults.reset();
    const path = grantPath(CLIENT_ID, GRACE.sub);
    const doc = t.stack.emulator.state.firestore.raw(path)!;
    const widened = { arrayValue: { values: [DRIVE_RO, SHEETS].map((stringValue) => ({ stringValue })) } };
    t.stack.emulator.state.firestore.overwriteFields(path, { ...doc.fields, scopes: widened });
    try {
      const answer = await t.call(WORKLOAD, `/v1/users/${GRACE.sub}:generateAccessToken`, {
        scope: [SHEETS],
      });
      expect(answer.status).toBe(500);
      expect(reasonOf(answer.json)).toBe('USER_TOKEN_REFRESH_REFUSED');
      expect(answer.json.accessToken).toBeUndefined();
      expect(t.stack.emulator.faults.count('oauth.token')).toBe(1);
    } finally {
      t.stack.emulator.state.firestore.overwriteFields(path, doc.fields);
    }
  });
});
