import { describe, expect, it } from 'vitest';
import { ApiKeySourceError, GeminiApiKeySource, apiKeySecretVersion } from '../../../client/index.js';
import type { SecretAccessor } from '../../../shared/gcp/secret-manager.js';
import { UnavailableError, NotFoundError } from '../../../shared/errors.js';

const VERSION = apiKeySecretVersion('p', 'gemini-api-key');

function fakeAccessor(values: Array<string | Error>) {
  const reads: string[] = [];
  const accessor: SecretAccessor = {
    access(name) {
      reads.push(name);
      const v = values[Math.min(reads.length - 1, values.length - 1)];
      return v instanceof Error
        ? Promise.reject(v)
        : Promise.resolve({
            name: `projects/1/secrets/gemini-api-key/versions/${reads.length}`,
            data: Buffer.from(v),
          });
    },
  };
  return { accessor, reads };
}

const fastRetry = { baseDelayMs: 0, maxDelayMs: 0, maxAttempts: 3, random: () => 0 };

describe('GeminiApiKeySource', () => {
  it('reads the current alias once and serves the key from memory', async () => {
    const { accessor, reads } = fakeAccessor(['key-one\n']);
    const source = new GeminiApiKeySource({ secretVersion: VERSION, accessor });
    expect(await source.getKey()).toBe('key-one');
    expect(await source.getKey()).toBe('key-one');
    expect(reads).toEqual(['projects/p/secrets/gemini-api-key/versions/current']);
    expect(source.currentVersion).toBe('projects/1/secrets/gemini-api-key/versions/1');
  });

  it('coalesces concurrent first reads', async () => {
    const { accessor, reads } = fakeAccessor(['key-one']);
    const source = new GeminiApiKeySource({ secretVersion: VERSION, accessor });
    await Promise.all(Array.from({ length: 20 }, () => source.getKey()));
    expect(reads).toHaveLength(1);
  });

  it('re-reads after invalidate()', async () => {
    const { accessor } = fakeAccessor(['key-one', 'key-two']);
    const source = new GeminiApiKeySource({ secretVersion: VERSION, accessor });
    await source.getKey();
    source.invalidate();
    expect(await source.getKey()).toBe('key-two');
  });

  it('re-reads in the background after ttlMs, serving the old key meanwhile', async () => {
    const clock = { now: 0 };
    const { accessor, reads } = fakeAccessor(['key-one', 'key-two']);
    const source = new GeminiApiKeySource({
      secretVersion: VERSION,
      accessor,
      ttlMs: 1000,
      now: () => clock.now,
    });
    await source.getKey();
    clock.now = 1000;
    expect(await source.getKey()).toBe('key-one');
    for (let i = 0; i < 100 && source.currentVersion?.endsWith('/2') !== true; i++)
      await new Promise((r) => setImmediate(r));
    expect(await source.getKey()).toBe('key-two');
    expect(reads).toHaveLength(2);
  });

  it('accepts a JSON payload with keyString', async () => {
    const { accessor } = fakeAccessor([JSON.stringify({ keyString: 'key-json' })]);
    expect(await new GeminiApiKeySource({ secretVersion: VERSION, accessor }).getKey()).toBe('key-json');
  });

  it.each([
    ['an empty payload', ''],
    ['JSON without keyString', '{"a":1}'],
    ['text with spaces', 'not a key'],
  ])('refuses %s without echoing it', async (_n, payload) => {
    const { accessor } = fakeAccessor([payload]);
    const err = await new GeminiApiKeySource({ secretVersion: VERSION, accessor })
      .getKey()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiKeySourceError);
    expect(err).toMatchObject({ code: 'FAILED_PRECONDITION', reason: 'API_KEY_SECRET_MALFORMED' });
    if (payload) expect((err as Error).message).not.toContain(payload);
  });

  it('retries an unavailable Secret Manager and then succeeds', async () => {
    const { accessor, reads } = fakeAccessor([
      new UnavailableError('down', { reason: 'SECRET_MANAGER_UNAVAILABLE' }),
      'key-one',
    ]);
    expect(
      await new GeminiApiKeySource({ secretVersion: VERSION, accessor, retry: fastRetry }).getKey(),
    ).toBe('key-one');
    expect(reads).toHaveLength(2);
  });

  it('surfaces a missing secret at once as NOT_FOUND with a hint', async () => {
    const { accessor, reads } = fakeAccessor([
      new NotFoundError('A configured secret was not found.', { reason: 'SECRET_NOT_FOUND' }),
    ]);
    const err = await new GeminiApiKeySource({ secretVersion: VERSION, accessor, retry: fastRetry })
      .getKey()
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'ApiKeySourceError', code: 'NOT_FOUND', reason: 'SECRET_NOT_FOUND' });
    expect((err as ApiKeySourceError).hint).toMatch(/secret name/);
    expect(reads).toHaveLength(1);
  });

  it('rejects a malformed secret version name', () => {
    expect(
      () =>
        new GeminiApiKeySource({ secretVersion: 'gemini-api-key', accessor: fakeAccessor(['k']).accessor }),
    ).toThrow(TypeError);
  });
});
