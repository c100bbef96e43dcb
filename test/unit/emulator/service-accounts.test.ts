import { describe, expect, it } from 'vitest';
import { StateError } from '../../../emulator/state/state-error.js';
import { ServiceAccountRegistry } from '../../../emulator/state/service-accounts.js';

const SA = 'lifecycle@tvs-unit.iam.gserviceaccount.com';

function registry(): ServiceAccountRegistry {
  return new ServiceAccountRegistry({ projectId: 'tvs-unit', tokenUrl: 'http://127.0.0.1:9/token' });
}

describe('ServiceAccountRegistry', () => {
  it('gives accounts a 21-digit unique id and a resource name, and refuses duplicates', () => {
    const sa = registry();
    const account = sa.create(SA.toUpperCase());
    expect(account).toMatchObject({
      email: SA,
      name: `projects/tvs-unit/serviceAccounts/${SA}`,
      disabled: false,
    });
    expect(account.uniqueId).toMatch(/^1\d{20}$/);
    expect(sa.getByUniqueId(account.uniqueId)).toBe(account);
    expect(() => sa.create(SA)).toThrow(expect.objectContaining({ code: 'ALREADY_EXISTS' }) as StateError);
  });

  it('walks a key through enabled, disabled, enabled and deleted', async () => {
    const sa = registry();
    sa.create(SA);
    const { keyId, keyFile, key } = await sa.createKey(SA);
    expect(keyId).toMatch(/^[0-9a-f]{40}$/);
    expect(keyFile).toMatchObject({
      private_key_id: keyId,
      client_email: SA,
      token_uri: 'http://127.0.0.1:9/token',
    });
    expect(key).toMatchObject({
      keyType: 'USER_MANAGED',
      keyAlgorithm: 'KEY_ALG_RSA_2048',
      state: 'ENABLED',
      validBeforeTime: '9999-12-31T23:59:59Z',
    });
    expect(sa.usableKeys(SA)).toEqual([key]);

    sa.disableKey(SA, keyId);
    expect(sa.usableKeys(SA)).toEqual([]);
    expect(sa.listKeys(SA).map((k) => k.state)).toEqual(['DISABLED']);

    sa.enableKey(SA, keyId);
    expect(sa.usableKeys(SA)).toEqual([key]);

    sa.deleteKey(SA, keyId);
    expect(sa.usableKeys(SA)).toEqual([]);
    expect(sa.listKeys(SA)).toEqual([]);
    expect(sa.getKey(SA, keyId)?.state).toBe('DELETED');
    expect(() => sa.enableKey(SA, keyId)).toThrow(
      expect.objectContaining({ code: 'NOT_FOUND' }) as StateError,
    );
  });

  it('filters keys by type and refuses keys for unknown accounts', async () => {
    const sa = registry();
    sa.create(SA);
    const system = await sa.createKey(SA, { keyType: 'SYSTEM_MANAGED' });
    expect(sa.listKeys(SA, { keyTypes: ['USER_MANAGED'] })).toEqual([]);
    expect(sa.listKeys(SA, { keyTypes: ['SYSTEM_MANAGED'] })).toEqual([system.key]);
    await expect(sa.createKey('ghost@tvs-unit.iam.gserviceaccount.com')).rejects.toThrow(StateError);
  });
});
