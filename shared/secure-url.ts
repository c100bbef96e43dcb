/** URLs from configuration: https everywhere, plain http only for loopback (the local emulator). */
import * as z from './zod.js';

export const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** https everywhere; plain http only for loopback (the local emulator). Shared by both functions' configs. */
export const secureUrl = z.string().check(
  z.refine((value) => {
    try {
      const url = new URL(value);
      return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname));
    } catch {
      return false;
    }
  }, 'must be an https URL (http is allowed only for localhost)'),
);
