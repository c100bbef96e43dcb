import { GoogleAuth } from 'google-auth-library';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../emulator/index.js';
import { useEmulatorMetadata } from '../../support/google-env.js';

const PROJECT = 'tvs-metadata-test';
const WORKLOAD = `workload@${PROJECT}.iam.gserviceaccount.com`;
const OTHER = `another@${PROJECT}.iam.gserviceaccount.com`;
const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';
const USERINFO_EMAIL = 'https://www.googleapis.com/auth/userinfo.email';

let emulator: Emulator;
let restoreEnv: () => void;

beforeAll(async () => {
  emulator = await startEmulator({
    seed: {
      projectId: PROJECT,
      projectNumber: '777000111333',
      serviceAccounts: [{ email: WORKLOAD }, { email: OTHER }],
      metadata: { defaultServiceAccount: WORKLOAD },
    },
  });
  // Only the emulator's metadata server answers the stock library (no ADC file, no gcloud config).
  restoreEnv = useEmulatorMetadata(emulator.metadataHost);
});

afterAll(async () => {
  restoreEnv?.();
  await emulator?.stop();
});

function metadata(
  path: string,
  headers: Record<string, string> = { 'Metadata-Flavor': 'Google' },
): Promise<Response> {
  return fetch(`http://${emulator.metadataHost}/computeMetadata/v1/${path}`, { headers });
}

describe('stock GoogleAuth against the metadata server', () => {
  // One instance, created after GCE_METADATA_HOST is set: each fresh GoogleAuth runs `gcloud` once (~0.7 s).
  let auth: GoogleAuth;
  beforeAll(() => {
    auth = new GoogleAuth();
  });

  it('gets the default service account’s access token with the default scopes', async () => {
    const before = emulator.faults.count('metadata.token');
    const token = await auth.getAccessToken();
    expect(token).toMatch(/^ya29\./);
    expect(emulator.state.tokens.lookup(token!)).toMatchObject({
      email: WORKLOAD,
      scopes: [CLOUD_PLATFORM, USERINFO_EMAIL],
      issuedBy: 'metadata.token',
    });
    expect(emulator.faults.count('metadata.token')).toBe(before + 1);
    const info = await fetch(`${emulator.tokeninfoUrl}?access_token=${token}`);
    expect(((await info.json()) as { email: string }).email).toBe(WORKLOAD);
  });

  it('asks for the scopes it was configured with', async () => {
    const scope = 'https://www.googleapis.com/auth/devstorage.read_only';
    const token = await new GoogleAuth({ scopes: [scope] }).getAccessToken();
    expect(emulator.state.tokens.lookup(token!)?.scopes).toEqual([scope]);
  });

  it('finds the project id', async () => {
    expect(await auth.getProjectId()).toBe(PROJECT);
  });

  it('reports the service account email as its credentials', async () => {
    expect(await auth.getCredentials()).toMatchObject({
      client_email: WORKLOAD,
      universe_domain: 'googleapis.com',
    });
  });

  it('gets a Google-signed ID token through getIdTokenClient', async () => {
    const audience = 'https://tvs.example.test';
    const client = await auth.getIdTokenClient(audience);
    const headers = await client.getRequestHeaders();
    const idToken = /^Bearer (.+)$/.exec(headers.get('authorization') ?? '')![1];
    const { payload } = await jwtVerify(idToken, createRemoteJWKSet(new URL(emulator.jwksUrl)), {
      algorithms: ['RS256'],
      issuer: 'https://accounts.google.com',
      audience,
    });
    const uniqueId = emulator.state.serviceAccounts.get(WORKLOAD)!.uniqueId;
    expect(payload).toMatchObject({ sub: uniqueId, azp: uniqueId, email: WORKLOAD, email_verified: true });
  });
});

describe('metadata server wire behaviour', () => {
  it('refuses a request without Metadata-Flavor with Google’s 403 text', async () => {
    const response = await metadata('instance/service-accounts/default/token', {});
    expect(response.status).toBe(403);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await response.text()).toBe('Missing required header "Metadata-Flavor": "Google"\n');
    expect(response.headers.get('metadata-flavor')).toBe('Google');
  });

  it('refuses a wrong Metadata-Flavor value', async () => {
    expect((await metadata('project/project-id', { 'Metadata-Flavor': 'google' })).status).toBe(403);
  });

  it.each([
    ['project/project-id', PROJECT],
    ['project/numeric-project-id', '777000111333'],
    ['instance/service-accounts/default/email', WORKLOAD],
    [`instance/service-accounts/${WORKLOAD}/email`, WORKLOAD],
    ['universe/universe-domain', 'googleapis.com'],
  ])('answers %s as plain text with Metadata-Flavor', async (path, expected) => {
    const response = await metadata(path);
    expect(response.status).toBe(200);
    expect(response.headers.get('metadata-flavor')).toBe('Google');
    expect(await response.text()).toBe(expected);
  });

  it('mints a token with the scopes of the scopes= parameter', async () => {
    const response = await metadata(
      'instance/service-accounts/default/token?scopes=https://www.googleapis.com/auth/a,https://www.googleapis.com/auth/b',
    );
    expect(response.status).toBe(200);
    const body = (await response.json()) as { access_token: string; expires_in: number; token_type: string };
    expect(body).toEqual({
      access_token: expect.stringMatching(/^ya29\./),
      expires_in: 3599,
      token_type: 'Bearer',
    });
    expect(emulator.state.tokens.lookup(body.access_token)?.scopes).toEqual([
      'https://www.googleapis.com/auth/a',
      'https://www.googleapis.com/auth/b',
    ]);
  });

  it('includes email claims in identity tokens only with format=full', async () => {
    const standard = await (
      await metadata('instance/service-accounts/default/identity?audience=aud-1')
    ).text();
    const full = await (
      await metadata('instance/service-accounts/default/identity?audience=aud-1&format=full')
    ).text();
    const keys = createRemoteJWKSet(new URL(emulator.jwksUrl));
    expect((await jwtVerify(standard, keys, { audience: 'aud-1' })).payload).not.toHaveProperty('email');
    expect((await jwtVerify(full, keys, { audience: 'aud-1' })).payload).toMatchObject({ email: WORKLOAD });
  });

  it('answers 400 for an identity request without audience', async () => {
    const response = await metadata('instance/service-accounts/default/identity');
    expect(response.status).toBe(400);
    expect(await response.text()).toBe('non-empty audience parameter required\n');
  });

  it('describes the default service account recursively as JSON', async () => {
    const response = await metadata('instance/service-accounts/default/?recursive=true');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      aliases: ['default'],
      email: WORKLOAD,
      scopes: [CLOUD_PLATFORM, USERINFO_EMAIL],
    });
  });

  it('does not know accounts other than the attached one', async () => {
    const response = await metadata(`instance/service-accounts/${OTHER}/token`);
    expect(response.status).toBe(404);
    expect(response.headers.get('metadata-flavor')).toBe('Google');
  });

  it('answers 404 with Metadata-Flavor for unknown keys', async () => {
    const response = await metadata('instance/attributes/cluster-name');
    expect(response.status).toBe(404);
    expect(response.headers.get('metadata-flavor')).toBe('Google');
  });

  it('counts calls per metadata endpoint', async () => {
    const before = {
      email: emulator.faults.count('metadata.email'),
      project: emulator.faults.count('metadata.project'),
    };
    await metadata('instance/service-accounts/default/email');
    await metadata('project/project-id');
    await metadata('project/numeric-project-id');
    expect(emulator.faults.count('metadata.email')).toBe(before.email + 1);
    expect(emulator.faults.count('metadata.project')).toBe(before.project + 2);
  });
});
