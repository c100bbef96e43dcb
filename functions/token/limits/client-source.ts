/**
 * The source of a request (the client's IP address) as a throttle key.
 *
 * On Cloud Run / Cloud Functions (2nd gen) the socket peer is Google's front end, not the client;
 * the client address arrives in `X-Forwarded-For`. Google's front end APPENDS the address it saw
 * to whatever the client sent, so every entry left of it is the client's own text and can be
 * forged. Google's load-balancer documentation gives the shape
 * `<unverified IP(s)>, <immediate client IP>, <global forwarding rule external IP>, <proxies running in GCP>`
 * and says only the two middle entries are provided by the load balancer. Directly on a run.app
 * URL the entry the front end adds is the rightmost. (Whether a serverless NEG behind the
 * external load balancer adds a further entry is not documented that we found: unsure; hence the
 * setting.)
 *
 * So the source is the entry `trustedHops` places left of the rightmost: 0 directly on Cloud Run
 * (the rightmost entry), 1 behind the external Application Load Balancer (the entry before the
 * forwarding rule's address). With fewer entries than that, the leftmost is used: every entry
 * from there rightwards was added by a trusted hop. Without the header (local runs, tests) it is
 * the socket peer.
 */
import type { IncomingMessage } from 'node:http';
import { isIPv4, isIPv6 } from 'node:net';

/** The client address as Google's front end saw it, or undefined when there is none. */
export function clientAddress(req: IncomingMessage, trustedHops: number): string | undefined {
  // Node joins repeated X-Forwarded-For headers with ", ", in order: one list either way.
  const header = req.headers['x-forwarded-for'];
  const forwarded = Array.isArray(header) ? header.join(',') : header;
  if (forwarded === undefined || forwarded.trim() === '') return req.socket.remoteAddress;
  const entries = forwarded.split(',');
  return entries[Math.max(0, entries.length - 1 - trustedHops)].trim();
}

/**
 * The throttle key of an address: an IPv4 address as such, an IPv6 address by its /64 (one
 * subscriber usually holds a whole /64, so single addresses would give one client 2^64 keys), an
 * IPv4-mapped IPv6 address as its IPv4. Anything else (a malformed entry) is kept, bounded.
 */
export function sourceKey(address: string | undefined): string {
  if (address === undefined) return 'unknown';
  const bare = address.replace(/^\[|\](:\d+)?$/g, '').replace(/%.*$/, '');
  if (isIPv4(bare)) return bare;
  if (isIPv6(bare)) {
    const g = expandIPv6(bare);
    if (g.slice(0, 5).every((x) => x === '0') && g[5] === 'ffff') {
      const n = (parseInt(g[6], 16) << 16) | parseInt(g[7], 16);
      return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
    }
    return `${g.slice(0, 4).join(':')}::/64`;
  }
  return `other:${address.slice(0, 64)}`;
}

/** The eight 16-bit groups of a valid IPv6 address (an embedded IPv4 tail counts as two). */
function expandIPv6(address: string): string[] {
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined];
  const groups = (part: string | undefined): string[] => {
    if (!part) return [];
    return part.split(':').flatMap((g) => {
      if (!g.includes('.')) return [g];
      const [a, b, c, d] = g.split('.').map(Number);
      return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
    });
  };
  const left = groups(head);
  const right = groups(tail);
  const zeros = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((g) => parseInt(g, 16).toString(16));
}
