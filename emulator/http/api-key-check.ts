/**
 * How Google's front end judges an API key on a call: the key must exist and not be deleted,
 * its client restriction (IP, referrer, Android, iOS) must admit the caller, and its
 * `apiTargets` must name the service (and method). Errors carry Google's reasons and texts.
 */
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';
import type { ApiKey } from '../state/api-key-model.js';
import type { ApiKeyRegistry } from '../state/api-keys.js';
import type { ApiMethod } from './bearer-auth.js';
import { errorInfo, localizedMessage, RpcError } from './rpc-error.js';

const UNREGISTERED =
  "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.";
const INVALID = 'API key not valid. Please pass a valid API key.';

/** The API key of a request (`x-goog-api-key` header first, then `?key=`), if any. */
export function apiKeyOf(req: IncomingMessage, url: URL): string | undefined {
  const header = req.headers['x-goog-api-key'];
  if (typeof header === 'string' && header !== '') return header;
  const query = url.searchParams.get('key');
  return query === null || query === '' ? undefined : query;
}

/** 403 for a call that carries no credential at all. */
export function unregisteredCaller(): RpcError {
  return new RpcError('PERMISSION_DENIED', UNREGISTERED);
}

/** Checks `keyString` for a call of `api` from `req`; returns the key or throws Google's error. */
export function checkApiKey(
  keys: ApiKeyRegistry,
  projectNumber: string,
  keyString: string,
  req: IncomingMessage,
  api: ApiMethod,
): ApiKey {
  const key = keys.lookup(keyString);
  if (!key) {
    throw new RpcError('INVALID_ARGUMENT', INVALID, [
      errorInfo('API_KEY_INVALID', { service: api.service }),
      localizedMessage(INVALID),
    ]);
  }
  const consumer = `projects/${projectNumber}`;
  const blocked = (reason: string, message: string, metadata: Record<string, string> = {}): RpcError =>
    new RpcError('PERMISSION_DENIED', message, [
      errorInfo(reason, { consumer, service: api.service, ...metadata }),
      localizedMessage(message),
    ]);
  const r = key.restrictions;
  if (r?.serverKeyRestrictions) {
    const remote = req.socket.remoteAddress ?? '';
    if (!ipAllowed(r.serverKeyRestrictions.allowedIps ?? [], remote)) {
      throw blocked(
        'API_KEY_IP_ADDRESS_BLOCKED',
        `The provided API key has an IP address restriction. The originating IP address of the call (${unmapped(remote)}) violates this restriction.`,
      );
    }
  }
  if (r?.browserKeyRestrictions) {
    const referer = typeof req.headers.referer === 'string' ? req.headers.referer : '';
    if (!referrerAllowed(r.browserKeyRestrictions.allowedReferrers ?? [], referer)) {
      throw blocked(
        'API_KEY_HTTP_REFERRER_BLOCKED',
        `Requests from referer ${referer === '' ? '<empty>' : referer} are blocked.`,
      );
    }
  }
  // The emulator has no way to prove an Android or iOS caller, so such keys never pass.
  if (r?.androidKeyRestrictions)
    throw blocked(
      'API_KEY_ANDROID_APP_BLOCKED',
      'Requests from this Android client application <empty> are blocked.',
    );
  if (r?.iosKeyRestrictions)
    throw blocked(
      'API_KEY_IOS_APP_BLOCKED',
      'Requests from this iOS client application <empty> are blocked.',
    );
  const targets = r?.apiTargets ?? [];
  if (
    targets.length > 0 &&
    !targets.some((t) => t.service === api.service && methodAllowed(t.methods ?? [], api.method))
  ) {
    throw blocked(
      'API_KEY_SERVICE_BLOCKED',
      `Requests to this API ${api.service} method ${api.method} are blocked.`,
      {
        apiName: api.service,
        methodName: api.method,
      },
    );
  }
  return key;
}

/** `::ffff:a.b.c.d` → `a.b.c.d`. */
function unmapped(address: string): string {
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : '';
  return isIP(v4) === 4 ? v4 : address;
}

/** The addresses a caller counts as: loopback callers match either loopback form. */
function candidates(remote: string): string[] {
  const address = unmapped(remote);
  if (address === '::1' || address.startsWith('127.')) return [...new Set([address, '127.0.0.1', '::1'])];
  return [address];
}

/** True when `remote` is one of `allowed` (addresses or CIDR blocks, v4 or v6). */
export function ipAllowed(allowed: readonly string[], remote: string): boolean {
  const list = new BlockList();
  for (const entry of allowed) {
    const [address, prefix] = entry.split('/');
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (isIP(address) === 0) continue;
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(prefix), type);
  }
  return candidates(remote).some((a) => isIP(a) !== 0 && list.check(a, isIP(a) === 6 ? 'ipv6' : 'ipv4'));
}

function glob(pattern: string): RegExp {
  const escaped = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\/]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${escaped}$`);
}

/** Referrer patterns like `https://example.com/*` or `*.example.com/*`; scheme optional. */
function referrerAllowed(patterns: readonly string[], referer: string): boolean {
  if (referer === '') return false;
  const withoutScheme = referer.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  return patterns.some((p) => glob(p).test(referer) || glob(p).test(withoutScheme));
}

/** Method patterns: full names or short names, `*` wildcards; none = every method. */
function methodAllowed(patterns: readonly string[], method: string): boolean {
  if (patterns.length === 0) return true;
  const short = method.slice(method.lastIndexOf('.') + 1);
  return patterns.some((p) => glob(p).test(method) || glob(p).test(short));
}
