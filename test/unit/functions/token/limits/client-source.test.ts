import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { clientAddress, sourceKey } from '../../../../../functions/token/limits/client-source.js';

const req = (xff: string | string[] | undefined, remoteAddress = '169.254.1.1') =>
  ({
    headers: xff === undefined ? {} : { 'x-forwarded-for': xff },
    socket: { remoteAddress },
  }) as unknown as IncomingMessage;

describe('clientAddress', () => {
  it.each<[string, string | undefined, number, string | undefined]>([
    ['no header: the socket peer', undefined, 0, '169.254.1.1'],
    ['an empty header: the socket peer', ' ', 0, '169.254.1.1'],
    ['directly on Cloud Run: the entry Google appended (rightmost)', '203.0.113.7', 0, '203.0.113.7'],
    ['a forged leftmost entry is ignored', '1.1.1.1, 203.0.113.7', 0, '203.0.113.7'],
    ['many forged entries are ignored', '1.1.1.1,2.2.2.2 , 3.3.3.3,203.0.113.7', 0, '203.0.113.7'],
    [
      'behind the load balancer: the entry before its address',
      '1.1.1.1, 203.0.113.7, 34.120.0.1',
      1,
      '203.0.113.7',
    ],
    ['fewer entries than hops: the leftmost, which a trusted hop added', '203.0.113.7', 1, '203.0.113.7'],
  ])('%s', (_name, xff, hops, expected) => {
    expect(clientAddress(req(xff), hops)).toBe(expected);
  });

  it('repeated headers are one list in order (the last one is the proxy’s)', () => {
    expect(clientAddress(req(['9.9.9.9', '203.0.113.7']), 0)).toBe('203.0.113.7');
  });
});

describe('sourceKey', () => {
  it.each<[string | undefined, string]>([
    ['203.0.113.7', '203.0.113.7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:db8:1:2::/64'],
    ['2001:DB8:0001:0002::1', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['[2001:db8:1:2::9]:443', '2001:db8:1:2::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    [undefined, 'unknown'],
    ['not-an-ip', 'other:not-an-ip'],
    ['x'.repeat(500), `other:${'x'.repeat(64)}`],
  ])('%s → %s', (address, key) => {
    expect(sourceKey(address)).toBe(key);
  });
});
