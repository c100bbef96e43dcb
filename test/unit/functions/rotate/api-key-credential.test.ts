import { describe, expect, it } from 'vitest';
import {
  apiKeyCredential,
  apiKeyIdFor,
  NONCE_ANNOTATION,
  OWNER_ANNOTATION,
} from '../../../../functions/rotate/credentials/api-key-credential.js';
import type { ApiKeyInfo, ApiKeys, NewApiKey } from '../../../../shared/gcp/api-keys.js';

const PARENT = 'projects/p/locations/global';
const CONFIG = {
  kind: 'api-key' as const,
  target: `${PARENT}/keys/orig`,
  periodMs: 86_400_000,
  graceMs: 7_200_000,
};
const SECRET = 'projects/p/secrets/my-secret';
const NONCE = 'a'.repeat(32);
const RESTRICTIONS = {
  apiTargets: [{ service: 'generativelanguage.googleapis.com', methods: ['GenerateContent'] }],
  serverKeyRestrictions: { allowedIps: ['10.0.0.0/8'] },
};

/** Our ApiKeys port over a table; `taken` pre-populates an id as someone (or an earlier attempt) left it. */
function fakeApiKeys(taken?: ApiKeyInfo) {
  const keys = new Map<string, ApiKeyInfo>([
    [`${PARENT}/keys/orig`, { name: `${PARENT}/keys/orig`, displayName: 'orig', restrictions: RESTRICTIONS }],
  ]);
  if (taken) keys.set(taken.name, taken);
  const created: string[] = [];
  const api: ApiKeys = {
    get: (name) => Promise.resolve(keys.get(name)!),
    create(parent, keyId, key: NewApiKey) {
      const name = `${parent}/keys/${keyId}`;
      const existing = keys.get(name);
      if (existing) return Promise.resolve({ key: existing, existed: true });
      created.push(keyId);
      const info = { name, ...key } as ApiKeyInfo;
      keys.set(name, info);
      return Promise.resolve({ key: info, existed: false });
    },
    keyString: () => Promise.resolve('AIzaFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKE123'),
    delete: () => Promise.resolve(),
  };
  return { api, created };
}

const context = {
  secretId: 'my-secret',
  secretName: SECRET,
  generation: 3,
  nonce: NONCE,
  currentKey: undefined,
};
const credential = (api: ApiKeys) =>
  apiKeyCredential({
    apiKeys: api,
    geminiUrl: 'https://gemini.invalid',
    verifyDeadlineMs: 1000,
    attemptTimeoutMs: 100,
  });

describe('API-key ids', () => {
  it('are valid API Keys ids, not UUID-shaped, and differ with every nonce', () => {
    const ids = new Set(
      Array.from({ length: 50 }, (_, i) => apiKeyIdFor('Tvs_Gemini-Key', `${i}`.padStart(32, '0'))),
    );
    expect(ids.size).toBe(50);
    for (const id of ids) {
      expect(id).toMatch(/^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/);
      expect(id).not.toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
      expect(id.startsWith('tvs-gemini-key-')).toBe(true);
    }
    expect(apiKeyIdFor('x'.repeat(255), NONCE).length).toBeLessThanOrEqual(63);
  });
});

describe('API-key create on a taken id', () => {
  const keyId = apiKeyIdFor('my-secret', NONCE);
  const ours = {
    name: `${PARENT}/keys/${keyId}`,
    restrictions: structuredClone(RESTRICTIONS),
    annotations: { [OWNER_ANNOTATION]: SECRET, [NONCE_ANNOTATION]: NONCE },
  };

  it("creates a new key with the nonce, the owner and the current key's restrictions", async () => {
    const { api, created } = fakeApiKeys();
    expect(await credential(api).create(CONFIG, context)).toMatchObject({ keyId });
    expect(created).toEqual([keyId]);
    expect(await api.get(`${PARENT}/keys/${keyId}`)).toMatchObject(ours);
  });

  it('adopts its own earlier attempt: same nonce, same restrictions (in any key order)', async () => {
    const reordered = {
      ...ours,
      restrictions: {
        serverKeyRestrictions: { allowedIps: ['10.0.0.0/8'] },
        apiTargets: [{ methods: ['GenerateContent'], service: 'generativelanguage.googleapis.com' }],
      },
    };
    const { api, created } = fakeApiKeys(reordered);
    expect(await credential(api).create(CONFIG, context)).toMatchObject({ keyId });
    expect(created).toEqual([]);
  });

  it.each([
    ['no annotations', { ...ours, annotations: undefined }, 'nonce'],
    [
      'another nonce',
      { ...ours, annotations: { ...ours.annotations, [NONCE_ANNOTATION]: 'b'.repeat(32) } },
      'nonce',
    ],
    [
      'another secret',
      { ...ours, annotations: { ...ours.annotations, [OWNER_ANNOTATION]: 'projects/p/secrets/other' } },
      'another secret',
    ],
    ['no restrictions', { ...ours, restrictions: undefined }, 'restrictions'],
    [
      'wider restrictions',
      { ...ours, restrictions: { apiTargets: RESTRICTIONS.apiTargets } },
      'restrictions',
    ],
    [
      'a service account binding',
      { ...ours, serviceAccountEmail: 'x@p.iam.gserviceaccount.com' },
      'service account',
    ],
    ['a deleted key', { ...ours, deleteTime: '2026-01-01T00:00:00Z' }, 'deleted'],
  ])('refuses a key with %s (API_KEY_ID_CONFLICT) and creates nothing', async (_what, taken, said) => {
    const { api, created } = fakeApiKeys(taken);
    const err = await credential(api)
      .create(CONFIG, context)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'FAILED_PRECONDITION', reason: 'API_KEY_ID_CONFLICT' });
    expect((err as { detail: string }).detail).toContain(said);
    expect(created).toEqual([]);
  });
});
