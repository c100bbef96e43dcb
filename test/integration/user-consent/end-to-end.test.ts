/**
 * Issue 19 end to end, both functions on the emulator over real sockets: ada consents through the
 * emulated IAP and Google on the consent function; a workload the policy allows gets her access
 * token from the token function and reads her Drive with it; a workload not allowed is refused;
 * ada revokes on her consent page, which makes the consent function call the token function's
 * revokeGrant with its own Google ID token; the token function revokes at Google and tombstones
 * the grant, and the next request fails with the stable reason USER_GRANT_REVOKED. Storage is read
 * directly (sealed, then erased), and no refresh or access token reaches any log line.
 *
 * Locally both functions run as the metadata server's one identity (token-vendor@): the policy's
 * `userGrantAdmins` names it for the consent function, as production names `<prefix>-consent@`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator, type SeedInput } from '../../../emulator/index.js';
import { startConsentStack, type ConsentStack } from '../../../scripts/consent-stack.js';
import { localUserGrantsEnv, startLocalStack, type LocalStack } from '../../../scripts/local-stack.js';
import { grantPath } from '../../../shared/user-grants/grant-document.js';
import { createCapture } from '../../support/capture.js';
import { freePort } from '../../support/free-port.js';
import { useEmulatorMetadata } from '../../support/google-env.js';
import { iapLogin, Session, queueConsent } from '../functions/consent/consent-bed.js';
import { getWithBearer } from '../emulator/support/user-consent.js';

const GOOGLE = 'https://accounts.google.com';
const DRIVE_RO = 'https://www.googleapis.com/auth/drive.readonly';
const ADA = { email: 'ada@example.com', sub: '110248495921238986420', name: 'Ada Lovelace' };
const PROJECT_NUMBER = '123456789012';
const CLIENT_ID = `${PROJECT_NUMBER}-tvsendtoend.apps.googleusercontent.com`;
const sa = (name: string) => `${name}@tvs-local.iam.gserviceaccount.com`;
const FUNCTIONS_IDENTITY = sa('token-vendor');
const REPORTS = sa('reports');
const STRANGER = sa('stranger');

const audit = createCapture();
const ops = createCapture();
const consentOps = createCapture();
/** Every secret value the run produced: none may appear in any log line. */
const secrets: string[] = [];

let dir: string;
let emulator: Emulator;
let stack: LocalStack;
let consent: ConsentStack;
let restoreEnv: () => void = () => {};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tvs-e2e-consent-'));
  const policyFile = join(dir, 'policy.json');
  const caller = (email: string) => ({ issuer: GOOGLE, email });
  writeFileSync(
    policyFile,
    JSON.stringify({
      version: 1,
      serviceAccounts: {},
      rules: [],
      userTokenRules: [
        {
          name: 'reports-reads-drive',
          caller: caller(REPORTS),
          users: ['*@example.com'],
          scopes: [DRIVE_RO],
        },
      ],
      userGrantAdmins: [{ name: 'consent-function', caller: caller(FUNCTIONS_IDENTITY), reasons: ['USER'] }],
    }),
  );
  // The consent side's public address (its IAP) is the OAuth client's one redirect URI.
  const iapPort = await freePort();
  const seed: SeedInput = {
    projectId: 'tvs-local',
    projectNumber: PROJECT_NUMBER,
    serviceAccounts: [FUNCTIONS_IDENTITY, REPORTS, STRANGER].map((email) => ({ email })),
    metadata: { defaultServiceAccount: FUNCTIONS_IDENTITY },
    oauthClients: [
      { clientId: CLIENT_ID, redirectUris: [`http://127.0.0.1:${iapPort}/v1/consent/callback`] },
    ],
    oauthUsers: [ADA],
  };
  emulator = await startEmulator({ seed });
  restoreEnv = useEmulatorMetadata(emulator.metadataHost);
  stack = await startLocalStack({
    emulator,
    auditTransport: audit.stream,
    opsLogWrite: ops.write,
    env: { TVS_POLICY_FILE: policyFile, ...localUserGrantsEnv(emulator, CLIENT_ID) },
  });
  consent = await startConsentStack({
    emulator,
    port: iapPort,
    tokenFunctionUrl: stack.tokenUrl,
    overrides: { opsLogWrite: consentOps.write },
  });
}, 60_000);

afterAll(async () => {
  await consent?.stop();
  await stack?.stop();
  await emulator?.stop();
  restoreEnv();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function vend(email: string) {
  const idToken = await emulator.state.signingKeys.signIdToken({
    audience: stack.tokenUrl,
    subject: emulator.state.serviceAccounts.get(email)!,
    includeEmail: true,
  });
  const res = await fetch(`${stack.tokenUrl}/v1/users/${ADA.sub}:generateAccessToken`, {
    method: 'POST',
    headers: { authorization: `Bearer ${idToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ scope: [DRIVE_RO] }),
  });
  return { status: res.status, json: await res.json() };
}

function liveRefreshTokens(): string[] {
  return emulator.state.userGrants
    .listGrants()
    .filter((g) => g.clientId === CLIENT_ID)
    .flatMap((g) => emulator.state.userGrants.liveRefreshTokens(g.id).map((t) => t.value));
}

describe('user-delegated access across the consent and token functions', () => {
  const session = new Session();

  it('ada consents through IAP and Google; her refresh token is stored sealed', async () => {
    await iapLogin(emulator, ADA.email);
    const start = new URL(`${consent.url}/v1/consent/start`);
    start.searchParams.set('scopes', DRIVE_RO);
    const started = await session.get(start.toString());
    expect(started.status).toBe(302);
    await queueConsent(emulator, { user: ADA.email, decision: 'approve', clientId: CLIENT_ID });
    const google = await session.get(started.headers.get('location')!);
    expect(google.status).toBe(302);
    const callback = new URL(google.headers.get('location')!);
    secrets.push(callback.searchParams.get('code')!, callback.searchParams.get('state')!);
    const done = await session.get(callback.toString());
    expect(done.status).toBe(303);

    const tokens = liveRefreshTokens();
    expect(tokens).toHaveLength(1);
    secrets.push(...tokens);
    const stored = JSON.stringify(emulator.state.firestore.raw(grantPath(CLIENT_ID, ADA.sub)));
    expect(stored).toContain(ADA.email);
    for (const token of tokens) {
      expect(stored).not.toContain(token);
      expect(stored).not.toContain(Buffer.from(token, 'utf8').toString('base64'));
    }

    const page = await session.get(`${consent.url}/v1/consent`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(DRIVE_RO);
  });

  it('gives the workload the policy allows ada’s token, which reads her Drive', async () => {
    const answer = await vend(REPORTS);
    expect(answer.status).toBe(200);
    secrets.push(answer.json.accessToken);
    const about = await getWithBearer(
      `${emulator.httpUrl}/drive/v3/about?fields=user`,
      answer.json.accessToken,
    );
    expect(about.status).toBe(200);
    expect((about.json.user as { emailAddress: string }).emailAddress).toBe(ADA.email);
    expect(
      audit
        .entries()
        .filter((e) => e.action === 'generateUserAccessToken')
        .at(-1),
    ).toMatchObject({
      decision: 'granted',
      caller: { email: REPORTS },
      target: { user: { sub: ADA.sub, email: ADA.email }, scopes: [DRIVE_RO] },
    });
  });

  it('refuses a workload the policy does not name', async () => {
    const answer = await vend(STRANGER);
    expect(answer.status).toBe(403);
    expect(answer.json.error.details[0].reason).toBe('USER_TOKEN_NOT_ALLOWED');
  });

  it('ada revokes on her page: revoked at Google through the token function, and the next request fails with USER_GRANT_REVOKED', async () => {
    const page = await (await session.get(`${consent.url}/v1/consent`)).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1];
    secrets.push(csrf);
    const revoked = await session.postForm(
      `${consent.url}/v1/consent/revoke`,
      { csrf },
      { origin: consent.url },
    );
    expect([200, 303]).toContain(revoked.status);

    // The token function did it (its audit entry), with Google's revocation.
    expect(audit.entries().filter((e) => e.action === 'revokeUserGrant')).toEqual([
      expect.objectContaining({
        decision: 'done',
        reason: 'USER_GRANT_REVOKED',
        rule: 'consent-function',
        caller: expect.objectContaining({ email: FUNCTIONS_IDENTITY }),
        target: expect.objectContaining({
          user: expect.objectContaining({ sub: ADA.sub }),
          revokedReason: 'USER',
          revokedAtGoogle: true,
        }),
      }),
    ]);
    expect(liveRefreshTokens()).toEqual([]);
    const stored = JSON.stringify(emulator.state.firestore.raw(grantPath(CLIENT_ID, ADA.sub)));
    expect(stored).toContain('"USER"');
    expect(stored).not.toContain('"sealed"');

    const after = await vend(REPORTS);
    expect(after.status).toBe(400);
    expect(after.json.error.status).toBe('FAILED_PRECONDITION');
    expect(after.json.error.details[0]).toMatchObject({
      reason: 'USER_GRANT_REVOKED',
      metadata: { revokedReason: 'USER' },
    });

    const pageAfter = await (await session.get(`${consent.url}/v1/consent`)).text();
    expect(pageAfter).toMatch(/revoked/i);
  });

  it('never wrote a code, a state, a refresh token or an access token to any log', () => {
    const lines = [audit.text(), ops.text(), consentOps.text()].join('\n');
    expect(lines.length).toBeGreaterThan(0);
    expect(secrets.length).toBeGreaterThanOrEqual(5);
    for (const secret of secrets) expect(lines).not.toContain(secret);
  });
});
