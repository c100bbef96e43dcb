/**
 * The consent function end to end on the emulator, over real sockets: ada consents through the
 * emulated IAP and Google, the grant lands sealed in Firestore, the page shows it, and "Revoke"
 * goes to the token function (a recording stand-in here) with a verified Google ID token, or
 * tombstones the grant locally when the token function is down. The consent identity may only
 * KMS-encrypt: zero decrypt calls. No code, token, verifier or cookie value ever reaches a log.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { grantPath } from '../../../../shared/user-grants/grant-document.js';
import {
  ADA,
  DRIVE,
  RETRIEVER,
  iapLogin,
  Session,
  startAndAuthorize,
  startConsentBed,
  type ConsentBed,
} from './consent-bed.js';

let bed: ConsentBed;
/** Every secret value the flows produced: none may appear in a log line. */
const secrets: string[] = [];

beforeAll(async () => {
  bed = await startConsentBed();
});
afterAll(async () => {
  await bed?.stop();
});
beforeEach(async () => {
  bed.tokenFunction.mode = 'ok';
  bed.tokenFunction.calls.length = 0;
  await iapLogin(bed.emulator, ADA.email);
});

function csrfOf(html: string): string {
  return /name="csrf" value="([^"]+)"/.exec(html)![1];
}

/** Opens the grant page and submits its Revoke form (same origin, the page's CSRF token). */
async function revokeOnPage(session: Session): Promise<Response> {
  const html = await (await session.get(`${bed.stack.url}/v1/consent`)).text();
  return session.postForm(
    `${bed.stack.url}/v1/consent/revoke`,
    { csrf: csrfOf(html) },
    { origin: bed.stack.url },
  );
}

async function consent(session: Session, scopes: string[]): Promise<Response> {
  const { callbackUrl } = await startAndAuthorize(bed, session, {
    user: ADA.email,
    scopes,
    returnTo: '/v1/consent?notice=granted',
  });
  secrets.push(
    callbackUrl.searchParams.get('code')!,
    callbackUrl.searchParams.get('state')!,
    session.cookie!.split('=')[1],
  );
  return session.get(callbackUrl.toString());
}

describe('the consent function', () => {
  it('takes ada through IAP, Google and back, and stores her grant sealed', async () => {
    const session = new Session();
    const done = await consent(session, [DRIVE]);
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toBe(`${bed.stack.url}/v1/consent?notice=granted`);
    expect(session.cookie).toBeUndefined();
    // Storage, read directly: the grant and no refresh token bytes in any spelling.
    const doc = bed.emulator.state.firestore.raw(grantPath(bed.stack.clientId, ADA.sub));
    expect(doc).toBeDefined();
    const grants = (await (
      await fetch(
        `${bed.emulator.httpUrl}/__admin/oauth/grants?user=${ADA.email}&clientId=${bed.stack.clientId}`,
      )
    ).json()) as {
      grants: { id: string }[];
    };
    const tokens = bed.emulator.state.userGrants.liveRefreshTokens(grants.grants[0].id).map((t) => t.value);
    expect(tokens).toHaveLength(1);
    secrets.push(...tokens);
    const stored = JSON.stringify(bed.emulator.state.firestore.raw(grantPath(bed.stack.clientId, ADA.sub)));
    for (const token of tokens) {
      const bytes = Buffer.from(token, 'utf8');
      for (const spelling of [
        token,
        bytes.toString('base64'),
        bytes.toString('base64url'),
        bytes.toString('hex'),
      ])
        expect(stored).not.toContain(spelling);
    }
    expect(stored).toContain(ADA.email);
    // The page shows what was granted.
    const page = await session.get(done.headers.get('location')!);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toMatch(/^default-src 'none'; style-src 'sha256-/);
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    const html = await page.text();
    expect(html).toContain('Access granted and stored.');
    expect(html).toContain(`<li><code>${DRIVE}</code></li>`);
    expect(html).toContain(ADA.email);
  });

  it('merges a second consent (incremental) and makes no KMS decrypt call, ever', async () => {
    const session = new Session();
    expect((await consent(session, [RETRIEVER])).status).toBe(303);
    const html = await (await session.get(`${bed.stack.url}/v1/consent`)).text();
    expect(html).toContain(`<li><code>${DRIVE}</code></li>`);
    expect(html).toContain(`<li><code>${RETRIEVER}</code></li>`);
    const calls = bed.emulator.state.kms.calls(bed.stack.kmsKey);
    expect(calls.decrypt).toBe(0);
    expect(calls.encrypt).toBeGreaterThanOrEqual(1);
  });

  it('revokes through the token function with its own verified Google ID token', async () => {
    const session = new Session();
    const res = await revokeOnPage(session);
    expect(res.status).toBe(303);
    // On a failure, say why the consent side fell back (its log line names the failure's kind).
    const fallback = JSON.stringify(
      bed.log.entries().filter((e: { event?: string }) => e.event === 'consent_revoke_fallback'),
    );
    expect(res.headers.get('location'), fallback).toBe(`${bed.stack.url}/v1/consent?notice=revoked`);
    expect(bed.tokenFunction.calls).toHaveLength(1);
    const [call] = bed.tokenFunction.calls;
    expect(call.path).toBe(`/v1/users/${ADA.sub}:revokeGrant`);
    expect(call.body).toEqual({ reason: 'USER' });
    expect(call.caller).toMatchObject({
      iss: 'https://accounts.google.com',
      aud: bed.tokenFunction.url,
      email: bed.emulator.state.metadata.defaultServiceAccount,
    });
    const page = await (await session.get(res.headers.get('location')!)).text();
    expect(page).toContain('Access revoked, here and at Google.');
  });

  it.each(['fail', 'down'] as const)(
    'tombstones the grant itself when the token function is %s, and says Google-side revocation is pending',
    async (mode) => {
      const session = new Session();
      expect((await consent(session, [DRIVE])).status).toBe(303);
      bed.tokenFunction.mode = mode;
      const res = await revokeOnPage(session);
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe(`${bed.stack.url}/v1/consent?notice=revoked-pending`);
      const doc = bed.emulator.state.firestore.raw(grantPath(bed.stack.clientId, ADA.sub));
      expect(doc?.fields.revokedReason).toEqual({ stringValue: 'USER' });
      expect(doc?.fields.sealed).toBeUndefined();
      const page = await (await session.get(res.headers.get('location')!)).text();
      expect(page).toContain('Revocation at Google is pending');
      expect(page).toContain('Revoked</span>');
      expect(bed.emulator.state.kms.calls(bed.stack.kmsKey).decrypt).toBe(0);
    },
  );

  it('tries the token function once more after a transient failure before falling back', async () => {
    const session = new Session();
    expect((await consent(session, [DRIVE])).status).toBe(303);
    bed.tokenFunction.mode = 'fail-once';
    const res = await revokeOnPage(session);
    expect(res.headers.get('location')).toBe(`${bed.stack.url}/v1/consent?notice=revoked`);
    expect(bed.tokenFunction.calls).toHaveLength(2);
  });

  it('says Google-side revocation is pending when the token function revoked here but could not reach Google', async () => {
    const session = new Session();
    expect((await consent(session, [DRIVE])).status).toBe(303);
    bed.tokenFunction.mode = 'google-down';
    const res = await revokeOnPage(session);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`${bed.stack.url}/v1/consent?notice=revoked-pending`);
    expect(bed.tokenFunction.calls.map((c) => c.path)).toEqual([`/v1/users/${ADA.sub}:revokeGrant`]);
  });

  it('shows "not granted" and stores nothing when the user denies', async () => {
    const before = JSON.stringify(bed.emulator.state.firestore.raw(grantPath(bed.stack.clientId, ADA.sub)));
    const session = new Session();
    const { callbackUrl } = await startAndAuthorize(bed, session, {
      user: ADA.email,
      scopes: [DRIVE],
      decision: 'deny',
    });
    expect(callbackUrl.searchParams.get('error')).toBe('access_denied');
    const res = await session.get(callbackUrl.toString());
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('Access not granted');
    expect(JSON.stringify(bed.emulator.state.firestore.raw(grantPath(bed.stack.clientId, ADA.sub)))).toBe(
      before,
    );
  });

  it('never logs a code, a token, the verifier or the cookie', () => {
    const text = bed.log.text();
    expect(text).toContain('consent_stored');
    expect(secrets.length).toBeGreaterThan(5);
    for (const secret of secrets) expect(text).not.toContain(secret);
  });
});
