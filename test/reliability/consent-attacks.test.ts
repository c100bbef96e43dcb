/**
 * Attacks on the consent function (issue 19), over real sockets against the emulator: CSRF and
 * login CSRF on the callback, code replay, PKCE verifier mismatch (code injection), open redirect
 * through `return_to`, scope escalation at start, forged IAP assertions, an ID token of another
 * account than the IAP user's, an unverified email, and forged revoke requests. Each attack is a
 * change to a request that works (the baselines), and each checks that nothing was stored.
 */
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { IAP_ISSUER } from '../../emulator/index.js';
import { grantPath } from '../../shared/user-grants/grant-document.js';
import {
  ADA,
  DRIVE,
  GRACE,
  iapLogin,
  queueConsent,
  Session,
  startAndAuthorize,
  startConsentBed,
  type ConsentBed,
} from '../integration/functions/consent/consent-bed.js';

const APP = 'https://app.example.com';
let bed: ConsentBed;
let clockOffsetMs = 0;

beforeAll(async () => {
  bed = await startConsentBed({
    env: { TVS_CONSENT_RETURN_TO_ORIGINS: APP },
    now: () => Date.now() + clockOffsetMs,
  });
});
afterAll(async () => {
  await bed?.stop();
});
beforeEach(async () => {
  clockOffsetMs = 0;
  bed.tokenFunction.calls.length = 0;
  await iapLogin(bed.emulator, ADA.email);
});

const grantDoc = (sub: string) => bed.emulator.state.firestore.raw(grantPath(bed.stack.clientId, sub));
const snapshot = () => JSON.stringify([grantDoc(ADA.sub), grantDoc(GRACE.sub)]);
const events = () =>
  bed.log.entries().map((e: { event?: string; reason?: string }) => `${e.event}:${e.reason ?? ''}`);

/** Runs `attack` and checks it stored nothing and was refused with `status` and log `reason`. */
async function refusedWithoutStoring(
  status: number,
  reason: string,
  attack: () => Promise<Response>,
): Promise<string> {
  const before = snapshot();
  const seen = bed.log.entries().length;
  const res = await attack();
  expect(res.status).toBe(status);
  expect(snapshot()).toBe(before);
  expect(events().slice(seen)).toContain(reason);
  return res.text();
}

describe('CSRF on the callback', () => {
  it('baseline: the untouched flow is stored', async () => {
    const session = new Session();
    const { callbackUrl } = await startAndAuthorize(bed, session, { user: ADA.email, scopes: [DRIVE] });
    const res = await session.get(callbackUrl.toString());
    expect(res.status).toBe(303);
    expect(grantDoc(ADA.sub)).toBeDefined();
  });

  it.each([
    ['missing', (u: URL) => u.searchParams.delete('state')],
    ['wrong', (u: URL) => u.searchParams.set('state', 'A'.repeat(43))],
    [
      'another flow’s',
      (u: URL) =>
        u.searchParams.set(
          'state',
          u.searchParams.get('state')!.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')),
        ),
    ],
  ])('refuses a %s state', async (_name, change) => {
    const session = new Session();
    const { callbackUrl } = await startAndAuthorize(bed, session, { user: ADA.email, scopes: [DRIVE] });
    change(callbackUrl);
    await refusedWithoutStoring(400, 'consent_refused:STATE_MISMATCH', () =>
      session.get(callbackUrl.toString()),
    );
  });

  it('refuses a callback without the flow cookie (a link planted in another browser)', async () => {
    const { callbackUrl } = await startAndAuthorize(bed, new Session(), { user: ADA.email, scopes: [DRIVE] });
    await refusedWithoutStoring(400, 'consent_refused:FLOW_MISSING', () =>
      new Session().get(callbackUrl.toString()),
    );
  });

  it('refuses a flow cookie carried to another IAP user', async () => {
    const session = new Session();
    const { callbackUrl } = await startAndAuthorize(bed, session, { user: ADA.email, scopes: [DRIVE] });
    await iapLogin(bed.emulator, GRACE.email);
    await refusedWithoutStoring(403, 'consent_refused:IAP_USER_CHANGED', () =>
      session.get(callbackUrl.toString()),
    );
  });

  it('refuses an expired flow cookie', async () => {
    const session = new Session();
    const { callbackUrl } = await startAndAuthorize(bed, session, { user: ADA.email, scopes: [DRIVE] });
    clockOffsetMs = 10 * 60_000 + 1_000;
    await refusedWithoutStoring(400, 'consent_refused:FLOW_EXPIRED', () =>
      session.get(callbackUrl.toString()),
    );
  });

  it('refuses a tampered flow cookie', async () => {
    const session = new Session();
    const { callbackUrl } = await startAndAuthorize(bed, session, { user: ADA.email, scopes: [DRIVE] });
    const [name, value] = session.cookie!.split('=');
    const i = value.length - 10;
    session.cookie = `${name}=${value.slice(0, i)}${value[i] === 'A' ? 'B' : 'A'}${value.slice(i + 1)}`;
    await refusedWithoutStoring(400, 'consent_refused:FLOW_TAMPERED', () =>
      session.get(callbackUrl.toString()),
    );
  });
});

describe('code replay and PKCE', () => {
  it('refuses a replayed callback (Google answers invalid_grant) and stores nothing twice', async () => {
    const session = new Session();
    const { callbackUrl } = await startAndAuthorize(bed, session, { user: ADA.email, scopes: [DRIVE] });
    const cookie = session.cookie;
    expect((await session.get(callbackUrl.toString())).status).toBe(303);
    session.cookie = cookie;
    await refusedWithoutStoring(400, 'consent_refused:CODE_EXCHANGE_REJECTED', () =>
      session.get(callbackUrl.toString()),
    );
    expect(bed.log.text()).toContain('HTTP 400 invalid_grant');
  });

  it('refuses a code injected into another flow (its PKCE verifier does not match: invalid_grant)', async () => {
    const victim = new Session();
    const attacker = new Session();
    const stolen = await startAndAuthorize(bed, victim, { user: ADA.email, scopes: [DRIVE] });
    const own = await startAndAuthorize(bed, attacker, { user: ADA.email, scopes: [DRIVE] });
    const injected = new URL(own.callbackUrl);
    injected.searchParams.set('code', stolen.callbackUrl.searchParams.get('code')!);
    const text = await refusedWithoutStoring(400, 'consent_refused:CODE_EXCHANGE_REJECTED', () =>
      attacker.get(injected.toString()),
    );
    expect(text).toContain('Google refused this authorization');
  });
});

describe('start: open redirect and scope escalation', () => {
  const start = (params: Record<string, string>) => {
    const url = new URL(`${bed.stack.url}/v1/consent/start`);
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    return new Session().get(url.toString());
  };

  it.each([
    '//evil.example/',
    '///evil.example',
    '/\\evil.example',
    '\\\\evil.example',
    '/\t/evil.example',
    ' /v1/consent',
    'https://evil.example/',
    `${APP}@evil.example/`,
    `${APP}.evil.example/`,
    'https://user:pw@app.example.com/',
    'https://app.example.com:8443/',
    'http://app.example.com/',
    'https:app.example.com',
    'HTTPS://APP.EXAMPLE.COM/',
    'javascript:alert(1)',
    'JavaScript:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    '%2F%2Fevil.example',
    '/%2F%2Fevil.example',
    '/%5Cevil.example',
    '/%09/evil.example',
    '%68ttps://evil.example',
    'evil.example',
  ])('refuses return_to %j and sets no cookie', async (returnTo) => {
    const res = await start({ scopes: DRIVE, return_to: returnTo });
    expect(res.status).toBe(400);
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(res.headers.get('location')).toBeNull();
  });

  it.each([
    ['/v1/consent?notice=granted', (self: string) => `${self}/v1/consent?notice=granted`],
    [APP, () => `${APP}/`],
    [`${APP}/after?x=1#done`, () => `${APP}/after?x=1#done`],
  ])('accepts return_to %j', async (returnTo, expected) => {
    const session = new Session();
    const url = new URL(`${bed.stack.url}/v1/consent/start`);
    url.searchParams.set('scopes', DRIVE);
    url.searchParams.set('return_to', returnTo);
    expect((await session.get(url.toString())).status).toBe(302);
    // …and the callback sends the browser exactly there.
    await queueConsent(bed.emulator, { user: ADA.email, decision: 'approve', clientId: bed.stack.clientId });
    const google = await session.get((await session.get(url.toString())).headers.get('location')!);
    const done = await session.get(google.headers.get('location')!);
    expect(done.headers.get('location')).toBe(expected(bed.stack.url));
  });

  it.each([
    [['https://www.googleapis.com/auth/cloud-platform']],
    [[DRIVE, 'https://mail.google.com/']],
    [['https://www.googleapis.com/auth/drive']],
  ])('refuses scopes %j that the service does not offer, and sets no cookie', async (scopes) => {
    const res = await start({ scopes: scopes.join(' ') });
    expect(res.status).toBe(400);
    expect(res.headers.get('set-cookie')).toBeNull();
  });

  it('stores only offered scopes when the user widens the scope at Google’s authorization endpoint', async () => {
    const CLOUD = 'https://www.googleapis.com/auth/cloud-platform';
    await iapLogin(bed.emulator, GRACE.email);
    const session = new Session();
    const url = new URL(`${bed.stack.url}/v1/consent/start`);
    url.searchParams.set('scopes', DRIVE);
    const started = await session.get(url.toString());
    expect(started.status).toBe(302);
    // The user edits the authorization URL before following it: Google grants what it names.
    const authorize = new URL(started.headers.get('location')!);
    authorize.searchParams.set('scope', `${authorize.searchParams.get('scope')} ${CLOUD}`);
    await queueConsent(bed.emulator, {
      user: GRACE.email,
      decision: 'approve',
      clientId: bed.stack.clientId,
    });
    const google = await session.get(authorize.toString());
    expect(google.status).toBe(302);
    const seen = bed.log.entries().length;
    const done = await session.get(google.headers.get('location')!);
    expect(done.status).toBe(303);
    const stored = JSON.stringify(grantDoc(GRACE.sub));
    expect(stored).toContain(DRIVE);
    expect(stored).not.toContain(CLOUD);
    expect(events().slice(seen)).toContain('consent_scopes_dropped:');
  });
});

describe('forged IAP assertions (sent straight to the function, bypassing IAP)', () => {
  const audience = () => bed.stack.env.TVS_IAP_AUDIENCE;
  const page = (assertion?: string) =>
    fetch(`${bed.stack.functionUrl}/v1/consent`, {
      headers: assertion === undefined ? {} : { 'x-goog-iap-jwt-assertion': assertion },
    });
  const kid = () => bed.emulator.state.iap.jwks().keys[0].kid as string;
  const claims = { email: ADA.email };
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

  it('baseline: an assertion IAP signed is accepted', async () => {
    const assertion = await bed.emulator.state.iap.sign({ audience: audience(), user: ADA });
    expect((await page(assertion)).status).toBe(200);
  });

  it('refuses a request without an assertion, and ignores the unsigned identity headers', async () => {
    const res = await fetch(`${bed.stack.functionUrl}/v1/consent`, {
      headers: {
        'x-goog-authenticated-user-email': `accounts.google.com:${ADA.email}`,
        'x-goog-authenticated-user-id': `accounts.google.com:${ADA.sub}`,
      },
    });
    expect(res.status).toBe(401);
  });

  it.each([
    [
      'signed by another ES256 key under IAP’s kid',
      async () => {
        const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
        return new SignJWT(claims)
          .setProtectedHeader({ alg: 'ES256', kid: kid() })
          .setIssuer(IAP_ISSUER)
          .setAudience(audience())
          .setSubject(`accounts.google.com:${ADA.sub}`)
          .setIssuedAt()
          .setExpirationTime('10m')
          .sign(privateKey);
      },
    ],
    [
      'alg none',
      () => {
        const now = Math.floor(Date.now() / 1000);
        return Promise.resolve(
          `${b64({ alg: 'none', kid: kid() })}.${b64({ ...claims, iss: IAP_ISSUER, aud: audience(), sub: `accounts.google.com:${ADA.sub}`, iat: now, exp: now + 600 })}.`,
        );
      },
    ],
    [
      'HS256 keyed with IAP’s public key',
      async () => {
        const pem = Object.values(bed.emulator.state.iap.pemKeys())[0];
        return new SignJWT(claims)
          .setProtectedHeader({ alg: 'HS256', kid: kid() })
          .setIssuer(IAP_ISSUER)
          .setAudience(audience())
          .setSubject(`accounts.google.com:${ADA.sub}`)
          .setIssuedAt()
          .setExpirationTime('10m')
          .sign(new TextEncoder().encode(pem));
      },
    ],
    [
      'for another backend (aud)',
      () => bed.emulator.state.iap.sign({ audience: '/projects/1/global/backendServices/9', user: ADA }),
    ],
    [
      'expired',
      () => bed.emulator.state.iap.sign({ audience: audience(), user: ADA, nowMs: Date.now() - 11 * 60_000 }),
    ],
    [
      'issued in the future',
      () => bed.emulator.state.iap.sign({ audience: audience(), user: ADA, nowMs: Date.now() + 5 * 60_000 }),
    ],
    [
      'of another issuer',
      async () => {
        const key = createPrivateKey(
          generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
            format: 'pem',
            type: 'pkcs8',
          }),
        );
        return new SignJWT(claims)
          .setProtectedHeader({ alg: 'ES256', kid: kid() })
          .setIssuer('https://accounts.google.com')
          .setAudience(audience())
          .setSubject(`accounts.google.com:${ADA.sub}`)
          .setIssuedAt()
          .setExpirationTime('10m')
          .sign(key);
      },
    ],
    [
      'a Google ID token (RS256) instead',
      () =>
        bed.emulator.state.signingKeys.signGoogleIdToken(
          { email: ADA.email },
          { audience: audience(), subject: ADA.sub },
        ),
    ],
  ])('refuses an assertion %s', async (_name, forge) => {
    const seen = bed.log.entries().length;
    const res = await page(await forge());
    expect(res.status).toBe(401);
    expect(await res.text()).not.toContain(ADA.email);
    expect(events().slice(seen)).toEqual(['iap_rejected:']);
  });
});

describe('the ID token must be the IAP user’s, with a verified email', () => {
  it('refuses a consent given by another Google account than the IAP user (nothing stored for either)', async () => {
    const session = new Session();
    // ada is signed in to IAP; at Google, grace answers the consent screen.
    const { callbackUrl } = await startAndAuthorize(bed, session, { user: GRACE.email, scopes: [DRIVE] });
    await refusedWithoutStoring(403, 'consent_refused:ACCOUNT_MISMATCH', () =>
      session.get(callbackUrl.toString()),
    );
  });

  it('refuses an account whose email is not verified', async () => {
    const unverified = bed.emulator.state.oauthUsers.create({
      email: 'eve@example.com',
      sub: '100000000000000000777',
      emailVerified: false,
    });
    await iapLogin(bed.emulator, unverified.email);
    const session = new Session();
    const { callbackUrl } = await startAndAuthorize(bed, session, {
      user: unverified.email,
      scopes: [DRIVE],
    });
    const before = JSON.stringify(grantDoc(unverified.sub));
    const res = await session.get(callbackUrl.toString());
    expect(res.status).toBe(400);
    expect(JSON.stringify(grantDoc(unverified.sub))).toBe(before);
    expect(events()).toContain('consent_refused:ID_TOKEN_EMAIL_NOT_VERIFIED');
  });
});

describe('forged revoke requests', () => {
  /** Gives `user` a live grant, so that their page has a revoke form. */
  const ensureGrant = async (user: { email: string; sub: string }) => {
    if (grantDoc(user.sub)?.fields.sealed !== undefined) return;
    await iapLogin(bed.emulator, user.email);
    const session = new Session();
    const { callbackUrl } = await startAndAuthorize(bed, session, { user: user.email, scopes: [DRIVE] });
    expect((await session.get(callbackUrl.toString())).status).toBe(303);
  };
  const csrfFor = async (user: { email: string; sub: string }) => {
    await ensureGrant(user);
    await iapLogin(bed.emulator, user.email);
    const html = await (await new Session().get(`${bed.stack.url}/v1/consent`)).text();
    const token = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
    expect(token).toBeDefined();
    return token!;
  };

  beforeEach(async () => {
    await ensureGrant(ADA);
    await ensureGrant(GRACE);
  });

  it.each([
    ['without a CSRF token', () => Promise.resolve({ form: {}, origin: bed.stack.url })],
    ['with a malformed CSRF token', () => Promise.resolve({ form: { csrf: 'x' }, origin: bed.stack.url })],
    [
      'with another user’s CSRF token',
      async () => ({
        form: { csrf: await csrfFor(GRACE) },
        origin: bed.stack.url,
        grace: true,
      }),
    ],
    [
      'from another origin',
      async () => ({ form: { csrf: await csrfFor(ADA) }, origin: 'https://evil.example' }),
    ],
    ['without an Origin', async () => ({ form: { csrf: await csrfFor(ADA) }, origin: undefined })],
  ])('refuses a revoke %s and changes nothing', async (_name, make) => {
    const attack = await make();
    await iapLogin(bed.emulator, ADA.email);
    const before = snapshot();
    const res = await new Session().postForm(
      `${bed.stack.url}/v1/consent/revoke`,
      attack.form,
      attack.origin ? { origin: attack.origin } : {},
    );
    expect(res.status).toBe(403);
    expect(snapshot()).toBe(before);
    expect(bed.tokenFunction.calls).toHaveLength(0);
  });

  it('baseline: the same request with ada’s own token and origin revokes', async () => {
    const csrf = await csrfFor(ADA);
    const res = await new Session().postForm(
      `${bed.stack.url}/v1/consent/revoke`,
      { csrf },
      { origin: bed.stack.url },
    );
    expect(res.status).toBe(303);
    expect(bed.tokenFunction.calls).toHaveLength(1);
  });
});
