import { FirestoreDocuments } from '../../../emulator/state/firestore-documents.js';
import { KmsKeyRegistry } from '../../../emulator/state/kms-keys.js';
import { createPrivateKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SecretStore } from '../../../emulator/secret-manager/secret-store.js';
import { DEFAULT_SEED_PATH, loadSeed, parseSeed, SeedError } from '../../../emulator/seed.js';
import { ApiKeyRegistry } from '../../../emulator/state/api-keys.js';
import { applySeed } from '../../../emulator/state/apply-seed.js';
import { DEFAULT_METADATA_SCOPES, type EmulatorState } from '../../../emulator/state/emulator-state.js';
import { IamGrants } from '../../../emulator/state/iam-grants.js';
import type { GoogleSigningKeys } from '../../../emulator/state/google-signing-keys.js';
import { IssuedTokens } from '../../../emulator/state/issued-tokens.js';
import { OperationStore } from '../../../emulator/state/operations.js';
import { createOrgPolicy } from '../../../emulator/state/org-policy.js';
import { ServiceAccountRegistry } from '../../../emulator/state/service-accounts.js';
import { ConsentScript } from '../../../emulator/state/consent-script.js';
import { OAuthClientRegistry } from '../../../emulator/state/oauth-clients.js';
import { OAuthUserRegistry } from '../../../emulator/state/oauth-users.js';
import { UserGrants } from '../../../emulator/state/user-grants.js';
import { IapState } from '../../../emulator/state/iap.js';

const SA = 'workload@tvs-local.iam.gserviceaccount.com';
const base = { projectId: 'tvs-local', projectNumber: '123456789012' };
const CLIENT = '123456789012-abc.apps.googleusercontent.com';

describe('parseSeed', () => {
  it('fills defaults for a minimal seed', () => {
    expect(parseSeed(base)).toEqual({
      ...base,
      serviceAccounts: [],
      secrets: [],
      iamBindings: [],
      lifetimeExtension: [],
    });
  });

  it.each<[string, unknown, string]>([
    ['a malformed project id', { ...base, projectId: 'Bad_Project' }, 'projectId: must be a GCP project id'],
    [
      'a non-numeric project number',
      { ...base, projectNumber: '12ab' },
      'projectNumber: must be a numeric project number',
    ],
    ['an unknown top-level key', { ...base, extra: 1 }, 'Unrecognized key'],
    [
      'a malformed service-account email',
      { ...base, serviceAccounts: [{ email: 'me@example.com' }] },
      'serviceAccounts.0.email: must be a service-account email',
    ],
    [
      'a duplicate service account',
      { ...base, serviceAccounts: [{ email: SA }, { email: SA }] },
      `serviceAccounts.1.email: duplicate service account ${SA}`,
    ],
    [
      'more than 10 user-managed keys',
      { ...base, serviceAccounts: [{ email: SA, userManagedKeys: 11 }] },
      'serviceAccounts.0.userManagedKeys',
    ],
    [
      'a metadata identity that is not seeded',
      { ...base, metadata: { defaultServiceAccount: SA } },
      `metadata.defaultServiceAccount: ${SA} is not in serviceAccounts`,
    ],
    [
      'a key version for an unseeded account',
      { ...base, secrets: [{ id: 'k', versions: [{ serviceAccountKey: SA }] }] },
      `secrets.0.versions.0.serviceAccountKey: ${SA} is not in serviceAccounts`,
    ],
    [
      'an alias to a missing version',
      { ...base, secrets: [{ id: 's', versions: [{ data: 'x' }], versionAliases: { current: 2 } }] },
      'secrets.0.versionAliases.current: version 2 does not exist',
    ],
    [
      'a duplicate secret id',
      { ...base, secrets: [{ id: 's' }, { id: 's' }] },
      'secrets.1.id: duplicate secret s',
    ],
    [
      'a malformed OAuth client id',
      { ...base, oauthClients: [{ clientId: 'my-client', redirectUris: ['https://app.example/cb'] }] },
      'oauthClients.0.clientId: must look like <number>-<id>.apps.googleusercontent.com',
    ],
    [
      'an OAuth client without redirect URIs',
      { ...base, oauthClients: [{ clientId: CLIENT, redirectUris: [] }] },
      'oauthClients.0.redirectUris',
    ],
    [
      'a duplicate OAuth client',
      {
        ...base,
        oauthClients: [
          { clientId: CLIENT, redirectUris: ['https://app.example/cb'] },
          { clientId: CLIENT, redirectUris: ['https://app.example/cb'] },
        ],
      },
      `oauthClients.1.clientId: duplicate OAuth client ${CLIENT}`,
    ],
    [
      'a client-secret version for an unseeded client',
      { ...base, secrets: [{ id: 's', versions: [{ oauthClientSecret: CLIENT }] }] },
      `secrets.0.versions.0.oauthClientSecret: ${CLIENT} is not in oauthClients`,
    ],
    [
      'a user whose sub is not numeric',
      { ...base, oauthUsers: [{ email: 'ada@example.com', sub: 'ada' }] },
      'oauthUsers.0.sub: must be 1-21 digits',
    ],
    [
      'two users with one email',
      { ...base, oauthUsers: [{ email: 'ada@example.com' }, { email: 'Ada@example.com' }] },
      'oauthUsers.1.email: duplicate user ada@example.com',
    ],
    [
      'a version with two payload kinds',
      { ...base, secrets: [{ id: 's', versions: [{ data: 'x', dataBase64: 'eA==' }] }] },
      'secrets.0.versions.0',
    ],
  ])('rejects %s with a readable error', (_name, input, fragment) => {
    expect(() => parseSeed(input, 'test.json')).toThrow(SeedError);
    expect(() => parseSeed(input, 'test.json')).toThrow(fragment);
  });

  it('names the source file in the message', () => {
    expect(() => parseSeed({}, 'my-seed.json')).toThrow(/^invalid emulator seed \(my-seed\.json\):/);
  });
});

describe('loadSeed', () => {
  it('loads and validates the demo seed by default', async () => {
    const seed = await loadSeed();
    expect(seed.projectId).toBe('tvs-local');
    expect(seed.metadata?.defaultServiceAccount).toBe(SA);
  });

  it('reports an unreadable file as a SeedError', async () => {
    await expect(loadSeed(`${DEFAULT_SEED_PATH}.missing`)).rejects.toThrow(SeedError);
  });
});

describe('applySeed', () => {
  it('creates accounts, fresh keys and secrets whose key versions are working key files', async () => {
    const seed = await loadSeed();
    const tokenUrl = 'http://127.0.0.1:1/token';
    const secrets = new SecretStore({ projectId: seed.projectId, projectNumber: seed.projectNumber });
    const tokens = new IssuedTokens();
    const state: EmulatorState = {
      projectId: seed.projectId,
      projectNumber: seed.projectNumber,
      urls: { httpUrl: 'http://127.0.0.1:1', tokenUrl },
      serviceAccounts: new ServiceAccountRegistry({ projectId: seed.projectId, tokenUrl }),
      secrets,
      tokens,
      signingKeys: undefined as unknown as GoogleSigningKeys, // not used by seeding
      metadata: { defaultServiceAccount: undefined, defaultScopes: DEFAULT_METADATA_SCOPES },
      iam: new IamGrants(),
      apiKeys: new ApiKeyRegistry({ projectNumber: seed.projectNumber }),
      operations: new OperationStore('operations/test-'),
      orgPolicy: createOrgPolicy(),
      kms: new KmsKeyRegistry(),
      firestore: new FirestoreDocuments(seed.projectId),
      oauthClients: new OAuthClientRegistry(seed.projectNumber),
      oauthUsers: new OAuthUserRegistry(),
      consent: new ConsentScript(),
      userGrants: new UserGrants(tokens),
      iap: new IapState(),
    };

    await applySeed(state, seed);

    const caller = 'gemini-caller@tvs-local.iam.gserviceaccount.com';
    expect(state.serviceAccounts.get(caller)?.uniqueId).toMatch(/^1\d{20}$/);
    // One seeded user-managed key plus the one stored in the secret.
    expect(state.serviceAccounts.listKeys(caller)).toHaveLength(2);
    expect(state.metadata.defaultServiceAccount).toBe(SA);

    const accessed = secrets.accessVersion('projects/tvs-local/secrets/gemini-caller-key/versions/current');
    const keyFile = JSON.parse(accessed.data.toString('utf8')) as Record<string, string>;
    expect(keyFile).toMatchObject({
      type: 'service_account',
      project_id: 'tvs-local',
      client_email: caller,
      token_uri: tokenUrl,
      universe_domain: 'googleapis.com',
    });
    expect(keyFile.private_key).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(createPrivateKey(keyFile.private_key).asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(state.serviceAccounts.getKey(caller, keyFile.private_key_id)?.state).toBe('ENABLED');
    expect(
      secrets.accessVersion('projects/tvs-local/secrets/plain/versions/latest').data.toString('utf8'),
    ).toBe('hello');
    expect(secrets.getSecret('projects/tvs-local/secrets/gemini-caller-key').labels).toEqual({
      'tvs-managed': 'true',
      'tvs-kind': 'sa-key',
    });

    // The demo OAuth client's generated secret is what its secret holds; its users can consent.
    const [client] = state.oauthClients.list();
    expect(client.clientSecret).toMatch(/^GOCSPX-[A-Za-z0-9_-]{28}$/);
    expect(
      secrets
        .accessVersion('projects/tvs-local/secrets/oauth-client-secret/versions/latest')
        .data.toString('utf8'),
    ).toBe(client.clientSecret);
    expect(state.oauthUsers.first()).toMatchObject({
      email: 'ada@example.com',
      sub: '110248495921238986420',
    });
    expect(state.oauthUsers.list()).toHaveLength(2);
  });
});
