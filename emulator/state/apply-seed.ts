import type { Seed, SecretVersionSeed } from '../seed.js';
import type { EmulatorState } from './emulator-state.js';

/**
 * Creates the seed's service accounts, keys, API keys, OAuth clients and users, and secrets in
 * `state`. Keys are generated now (in parallel), never read from disk; `serviceAccountKey` versions
 * hold a fresh key file, `oauthClientSecret` versions the client's generated secret.
 */
export async function applySeed(state: EmulatorState, seed: Seed): Promise<void> {
  for (const sa of seed.serviceAccounts) {
    state.serviceAccounts.create(sa.email, {
      displayName: sa.displayName ?? '',
      disabled: sa.disabled ?? false,
    });
  }
  await Promise.all(
    seed.serviceAccounts.flatMap((sa) =>
      Array.from({ length: sa.userManagedKeys ?? 0 }, () => state.serviceAccounts.createKey(sa.email)),
    ),
  );
  for (const key of seed.apiKeys ?? []) {
    state.apiKeys.create(key.id, { displayName: key.displayName, restrictions: key.restrictions });
  }
  for (const client of seed.oauthClients ?? []) state.oauthClients.create(client);
  for (const user of seed.oauthUsers ?? []) state.oauthUsers.create(user);
  const secrets = await Promise.all(
    seed.secrets.map(async (secret) => ({
      secret,
      payloads: await Promise.all(secret.versions.map((v) => payloadOf(state, v))),
    })),
  );
  for (const { secret, payloads } of secrets) {
    state.secrets.seedSecret(
      secret.id,
      {
        ...(secret.labels ? { labels: secret.labels } : {}),
        ...(secret.annotations ? { annotations: secret.annotations } : {}),
        ...(secret.versionAliases ? { versionAliases: secret.versionAliases } : {}),
      },
      payloads,
    );
  }
  state.metadata.defaultServiceAccount =
    seed.metadata?.defaultServiceAccount ?? seed.serviceAccounts[0]?.email;
}

async function payloadOf(state: EmulatorState, version: SecretVersionSeed): Promise<Buffer> {
  if ('data' in version) return Buffer.from(version.data, 'utf8');
  if ('dataBase64' in version) return Buffer.from(version.dataBase64, 'base64');
  if ('oauthClientSecret' in version) {
    const client = state.oauthClients.get(version.oauthClientSecret);
    if (!client) throw new TypeError(`seed OAuth client ${version.oauthClientSecret} was not created`);
    return Buffer.from(client.clientSecret, 'utf8');
  }
  if ('apiKeyString' in version) {
    const key = state.apiKeys.get(version.apiKeyString);
    if (!key) throw new TypeError(`seed API key ${version.apiKeyString} was not created`);
    return Buffer.from(key.keyString, 'utf8');
  }
  const { keyFile } = await state.serviceAccounts.createKey(version.serviceAccountKey);
  return Buffer.from(JSON.stringify(keyFile, null, 2), 'utf8');
}
