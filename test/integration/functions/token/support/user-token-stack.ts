/**
 * The local stack with user tokens on (issue 19): the emulator with OAuth users and a consent
 * client, the token function configured for them, a grant store as the consent function would use
 * it, and helpers to consent (stock OAuth2Client, PKCE), call the user routes and read storage.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CodeChallengeMethod } from 'google-auth-library';
import { startEmulator, type SeedInput } from '../../../../../emulator/index.js';
import { applicationDefaultCredential } from '../../../../../shared/minting/own-credential.js';
import { grantPath } from '../../../../../shared/user-grants/grant-document.js';
import { createFirestoreGrantStore, type GrantStore } from '../../../../../shared/user-grants/grant-store.js';
import { localUserGrantsEnv, startLocalStack, type LocalStack } from '../../../../../scripts/local-stack.js';
import { createCapture, type Capture } from '../../../../support/capture.js';
import { useEmulatorMetadata } from '../../../../support/google-env.js';
import {
  consent,
  queueConsent,
  stockClient,
  type RegisteredClient,
} from '../../../emulator/support/user-consent.js';

export const GOOGLE = 'https://accounts.google.com';
export const DRIVE_RO = 'https://www.googleapis.com/auth/drive.readonly';
export const DRIVE_META = 'https://www.googleapis.com/auth/drive.metadata.readonly';
export const SHEETS = 'https://www.googleapis.com/auth/spreadsheets.readonly';
export const ADA = { email: 'ada@example.com', sub: '110248495921238986420', name: 'Ada Lovelace' };
export const GRACE = { email: 'grace@example.com', sub: '117350918440571250137' };
export const LINUS = { email: 'linus@example.org', sub: '104155555555555555555' };
export const PROJECT_NUMBER = '123456789012';
export const CLIENT_ID = `${PROJECT_NUMBER}-tvsvendingtest.apps.googleusercontent.com`;
const REDIRECT = 'http://127.0.0.1:9/v1/consent/callback';

export const sa = (name: string) => `${name}@tvs-local.iam.gserviceaccount.com`;
export const TOKEN_VENDOR = sa('token-vendor');
export const WORKLOAD = sa('workload');
export const STRANGER = sa('stranger');
export const CONSENT = sa('consent');
export const QUOTA = sa('quota-caller');

export interface UserTokenStack {
  stack: LocalStack;
  audit: Capture;
  ops: Capture;
  grants: GrantStore;
  client: RegisteredClient;
  /** Consents as `user` for `scopes` through the emulated Google and stores the grant; returns the refresh token (for the never-logged checks). */
  consentAndSave(user: { email: string; sub: string }, scopes: string[]): Promise<string>;
  /** A Google-signed ID token of `email` for the token function. */
  idTokenOf(email: string): Promise<string>;
  /** POSTs a user route as `email`. */
  call(email: string, path: string, body: unknown): Promise<{ status: number; json: any; headers: Headers }>;
  /** The grant document exactly as the emulated Firestore holds it. */
  rawGrant(sub: string): unknown;
  stop(): Promise<void>;
}

export function policyFor(extra: Record<string, unknown> = {}) {
  const caller = (email: string) => ({ issuer: GOOGLE, email });
  return {
    version: 1,
    serviceAccounts: {},
    rules: [],
    userTokenRules: [
      {
        name: 'workload-reads-drive',
        caller: caller(WORKLOAD),
        users: ['*@example.com'],
        scopes: [DRIVE_RO, DRIVE_META, SHEETS],
      },
      {
        name: 'workload-reads-linus',
        caller: caller(WORKLOAD),
        users: [`sub:${LINUS.sub}`],
        scopes: [DRIVE_RO],
      },
      {
        name: 'quota',
        caller: caller(QUOTA),
        users: ['*@example.com'],
        scopes: [DRIVE_RO],
        limits: { requestsPerMinute: 1000, perUser: { requestsPerMinute: 3 } },
      },
    ],
    userGrantAdmins: [
      { name: 'consent-function', caller: caller(CONSENT), reasons: ['ADMIN', 'USER'] },
      // An operator entry with the default reasons (ADMIN only), for one user nobody consented as.
      { name: 'narrow-operator', caller: caller(STRANGER), users: ['sub:100000000000000000555'] },
    ],
    ...extra,
  };
}

export async function startUserTokenStack(env: Record<string, string> = {}): Promise<UserTokenStack> {
  const dir = mkdtempSync(join(tmpdir(), 'tvs-user-tokens-'));
  const policyFile = join(dir, 'policy.json');
  writeFileSync(policyFile, JSON.stringify(policyFor()));
  const seed: SeedInput = {
    projectId: 'tvs-local',
    projectNumber: PROJECT_NUMBER,
    serviceAccounts: [TOKEN_VENDOR, WORKLOAD, STRANGER, CONSENT, QUOTA].map((email) => ({ email })),
    metadata: { defaultServiceAccount: TOKEN_VENDOR },
    oauthClients: [{ clientId: CLIENT_ID, redirectUris: [REDIRECT] }],
    oauthUsers: [ADA, GRACE, LINUS],
  };
  const audit = createCapture();
  const ops = createCapture();
  let stack: LocalStack | undefined;
  try {
    const started = await startEmulator({ seed });
    stack = await startLocalStack({
      emulator: started,
      auditTransport: audit.stream,
      opsLogWrite: ops.write,
      env: {
        TVS_POLICY_FILE: policyFile,
        TVS_UPSTREAM_DEADLINE_MS: '3000',
        TVS_UPSTREAM_MAX_ATTEMPTS: '2',
        ...localUserGrantsEnv(started, CLIENT_ID),
        ...env,
      },
    });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const emulator = stack.emulator;
  const restoreEnv = useEmulatorMetadata(emulator.metadataHost);
  const registered = emulator.state.oauthClients.get(CLIENT_ID)!;
  const client = { clientId: CLIENT_ID, clientSecret: registered.clientSecret, redirectUri: REDIRECT };
  // The consent function's side of custody (its own helper builds it): save a sealed grant.
  const grants = createFirestoreGrantStore({
    firestoreUrl: emulator.httpUrl,
    projectId: emulator.projectId,
    credential: applicationDefaultCredential({ projectId: emulator.projectId }),
    kms: { url: emulator.httpUrl, keyName: stack.env.TVS_USER_GRANTS_KMS_KEY },
  });
  const s = stack;
  const idTokenOf = (email: string) =>
    emulator.state.signingKeys.signIdToken({
      audience: s.tokenUrl,
      subject: emulator.state.serviceAccounts.get(email)!,
      includeEmail: true,
    });
  return {
    stack: s,
    audit,
    ops,
    grants,
    client,
    async consentAndSave(user, scopes) {
      const oauth = stockClient(emulator, client);
      const { codeVerifier, codeChallenge } = await oauth.generateCodeVerifierAsync();
      await queueConsent(emulator, { user: user.email, decision: 'approve', clientId: CLIENT_ID });
      const query = await consent(
        oauth.generateAuthUrl({
          access_type: 'offline',
          scope: ['openid', 'email', ...scopes],
          state: 'state-1',
          code_challenge: codeChallenge,
          code_challenge_method: CodeChallengeMethod.S256,
          prompt: 'consent',
        }),
      );
      const { tokens } = await oauth.getToken({ code: query.get('code')!, codeVerifier });
      if (!tokens.refresh_token) throw new Error('the emulated Google issued no refresh token');
      await grants.save({
        sub: user.sub,
        email: user.email,
        clientId: CLIENT_ID,
        scopes,
        refreshToken: tokens.refresh_token,
      });
      return tokens.refresh_token;
    },
    idTokenOf,
    async call(email, path, body) {
      const response = await fetch(`${s.tokenUrl}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await idTokenOf(email)}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: response.status, json: await response.json(), headers: response.headers };
    },
    rawGrant: (sub) => emulator.state.firestore.raw(grantPath(CLIENT_ID, sub)),
    async stop() {
      restoreEnv();
      await s.stop();
      await emulator.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
