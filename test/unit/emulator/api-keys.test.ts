import { describe, expect, it } from 'vitest';
import { ipAllowed } from '../../../emulator/http/api-key-check.js';
import { ApiKeyRegistry, UNDELETE_WINDOW_MS } from '../../../emulator/state/api-keys.js';

describe('ApiKeyRegistry', () => {
  it('undeletes within 30 days and purges the key (freeing its id) after', () => {
    let now = new Date('2026-01-01T00:00:00Z');
    const keys = new ApiKeyRegistry({ projectNumber: '123', now: () => now });
    keys.create('short-lived', {});
    keys.delete('short-lived');

    now = new Date(now.getTime() + UNDELETE_WINDOW_MS - 1000);
    expect(keys.undelete('short-lived').deleteTime).toBeUndefined();

    keys.delete('short-lived');
    now = new Date(now.getTime() + UNDELETE_WINDOW_MS);
    expect(keys.get('short-lived')).toBeUndefined();
    expect(() => keys.undelete('short-lived')).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    expect(keys.create('short-lived', {}).keyId).toBe('short-lived');
  });

  it('hands out copies, so callers cannot change stored keys', () => {
    const keys = new ApiKeyRegistry({ projectNumber: '123' });
    const created = keys.create('copy-me', { annotations: { a: '1' } });
    created.annotations.a = 'changed';
    expect(keys.get('copy-me')?.annotations).toEqual({ a: '1' });
  });
});

describe('ipAllowed', () => {
  it.each<[string, string[], string, boolean]>([
    ['an exact IPv4 address', ['203.0.113.7'], '203.0.113.7', true],
    ['another IPv4 address', ['203.0.113.7'], '203.0.113.8', false],
    ['an IPv4 CIDR block', ['10.0.0.0/8'], '10.200.3.4', true],
    ['an address outside the block', ['10.0.0.0/8'], '11.0.0.1', false],
    ['an IPv4-mapped IPv6 caller', ['203.0.113.0/24'], '::ffff:203.0.113.9', true],
    ['an IPv6 CIDR block', ['2001:db8::/32'], '2001:db8:1::5', true],
    ['::1 against 127.0.0.1', ['127.0.0.1'], '::1', true],
    ['::ffff:127.0.0.1 against ::1', ['::1'], '::ffff:127.0.0.1', true],
    ['loopback against a private block', ['192.168.0.0/16'], '127.0.0.1', false],
    ['an empty allow list', [], '127.0.0.1', false],
  ])('judges %s', (_name, allowed, remote, expected) => {
    expect(ipAllowed(allowed, remote)).toBe(expected);
  });
});
