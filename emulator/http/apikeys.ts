/**
 * API Keys API v2 (`https://apikeys.googleapis.com/v2/...`) on the same paths. Writes answer
 * long-running operations polled at `GET /v2/operations/{id}`. Endpoint names:
 * `apikeys.createKey`, `apikeys.getKey`, `apikeys.getKeyString`, `apikeys.listKeys`,
 * `apikeys.updateKey`, `apikeys.deleteKey`, `apikeys.undeleteKey`, `apikeys.lookupKey`,
 * `apikeys.getOperation`.
 */
import { ApiKeyError, keyToJson, parseKeyInput, type ApiKey } from '../state/api-key-model.js';
import { requireAccessToken } from './bearer-auth.js';
import type { HttpDeps } from './deps.js';
import { readJsonObject } from './read-json-object.js';
import { sendGoogleError, sendJson } from './respond.js';
import type { RequestContext, Route } from './router.js';
import { answerRpc, errorInfo, RpcError } from './rpc-error.js';

const SERVICE = 'apikeys.googleapis.com';
const KEY_TYPE_URL = 'type.googleapis.com/google.api.apikeys.v2.Key';
const MAX_PAGE_SIZE = 300;

const KEYS_PATH = /^\/v2\/projects\/([^/]+)\/locations\/([^/]+)\/keys$/;
const KEY_PATH =
  /^\/v2\/projects\/([^/]+)\/locations\/([^/]+)\/keys\/([^/:]+)(?:(\/keyString)|:(undelete))?$/;

type KeyMethod =
  | 'lookupKey'
  | 'createKey'
  | 'listKeys'
  | 'getKey'
  | 'getKeyString'
  | 'updateKey'
  | 'deleteKey'
  | 'undeleteKey';

function keysMethod({ req }: RequestContext): KeyMethod | undefined {
  return req.method === 'POST' ? 'createKey' : req.method === 'GET' ? 'listKeys' : undefined;
}

function keyMethod({ req, match }: RequestContext): KeyMethod | undefined {
  if (match[4]) return req.method === 'GET' ? 'getKeyString' : undefined;
  if (match[5]) return req.method === 'POST' ? 'undeleteKey' : undefined;
  switch (req.method) {
    case 'GET':
      return 'getKey';
    case 'PATCH':
      return 'updateKey';
    case 'DELETE':
      return 'deleteKey';
    default:
      return undefined;
  }
}

/** Routes of the API Keys v2 API. */
export function apiKeysRoutes(deps: HttpDeps): Route[] {
  const { state } = deps;
  const keys = state.apiKeys;
  const number = state.projectNumber;

  function authorize(ctx: RequestContext, method: string): void {
    const rpc = method.charAt(0).toUpperCase() + method.slice(1);
    requireAccessToken(state.tokens, ctx.req, {
      service: SERVICE,
      method: `google.api.apikeys.v2.ApiKeys.${rpc}`,
    });
  }

  function checkParent(ctx: RequestContext, permission: string): void {
    const project = decodeURIComponent(ctx.match[1]);
    const location = decodeURIComponent(ctx.match[2]);
    if (project !== state.projectId && project !== number) {
      throw new RpcError(
        'PERMISSION_DENIED',
        `Permission '${permission}' denied on resource 'projects/${project}' (or it may not exist).`,
        [errorInfo('IAM_PERMISSION_DENIED', { permission }, 'apikeys.googleapis.com')],
      );
    }
    if (location !== 'global')
      throw new RpcError(
        'INVALID_ARGUMENT',
        `Location ${location} is not supported; API keys live in location global.`,
      );
  }

  function operation(key: ApiKey, withKeyString = false): Record<string, unknown> {
    return state.operations.start({ '@type': KEY_TYPE_URL, ...keyToJson(key, number, { withKeyString }) });
  }

  function run(
    ctx: RequestContext,
    method: KeyMethod | undefined,
    body: (method: KeyMethod) => Promise<void> | void,
  ): Promise<void> | void {
    if (!method)
      return sendGoogleError(
        ctx.res,
        404,
        `The requested URL ${ctx.url.pathname} was not found on this server.`,
      );
    return answerRpc(ctx.res, async () => {
      authorize(ctx, method);
      try {
        await body(method);
      } catch (error) {
        if (error instanceof ApiKeyError) throw new RpcError(error.code, error.message);
        throw error;
      }
    });
  }

  return [
    {
      path: /^\/v2\/keys:lookupKey$/,
      endpoint: 'apikeys.lookupKey',
      handle: (ctx) =>
        run(ctx, ctx.req.method === 'GET' ? 'lookupKey' : undefined, () => {
          const keyString = ctx.url.searchParams.get('keyString') ?? '';
          if (!keyString) throw new RpcError('INVALID_ARGUMENT', 'key_string is required.');
          const key = keys.lookup(keyString);
          if (!key) throw new RpcError('NOT_FOUND', 'The key string was not found.');
          sendJson(ctx.res, 200, {
            parent: `projects/${number}/locations/global`,
            name: keys.nameOf(key.keyId),
          });
        }),
    },
    {
      path: /^\/v2\/(operations\/[^/]+)$/,
      endpoint: 'apikeys.getOperation',
      handle: (ctx) =>
        answerRpc(ctx.res, () => {
          if (ctx.req.method !== 'GET')
            return sendGoogleError(
              ctx.res,
              404,
              `The requested URL ${ctx.url.pathname} was not found on this server.`,
            );
          requireAccessToken(state.tokens, ctx.req, {
            service: SERVICE,
            method: 'google.longrunning.Operations.GetOperation',
          });
          const name = decodeURIComponent(ctx.match[1]);
          const op = state.operations.poll(name);
          if (!op) throw new RpcError('NOT_FOUND', `Operation ${name} not found.`);
          sendJson(ctx.res, 200, op);
        }),
    },
    {
      path: KEYS_PATH,
      endpoint: (ctx) => `apikeys.${keysMethod(ctx) ?? 'other'}`,
      handle: (ctx) =>
        run(ctx, keysMethod(ctx), async (method) => {
          if (method === 'createKey') {
            checkParent(ctx, 'apikeys.keys.create');
            const input = parseKeyInput(await readJsonObject(ctx.req));
            const keyId = ctx.url.searchParams.get('keyId') ?? undefined;
            sendJson(ctx.res, 200, operation(keys.create(keyId === '' ? undefined : keyId, input), true));
            return;
          }
          checkParent(ctx, 'apikeys.keys.list');
          const showDeleted = ctx.url.searchParams.get('showDeleted') === 'true';
          const all = keys.list({ showDeleted });
          const start = parsePageToken(ctx.url.searchParams.get('pageToken'));
          const sizeParam = Number(ctx.url.searchParams.get('pageSize') ?? '0');
          if (!Number.isInteger(sizeParam) || sizeParam < 0)
            throw new RpcError('INVALID_ARGUMENT', 'page_size must be a non-negative integer.');
          const size = sizeParam === 0 ? MAX_PAGE_SIZE : Math.min(sizeParam, MAX_PAGE_SIZE);
          const page = all.slice(start, start + size);
          const next =
            start + size < all.length ? Buffer.from(String(start + size)).toString('base64url') : undefined;
          sendJson(ctx.res, 200, {
            ...(page.length > 0 ? { keys: page.map((k) => keyToJson(k, number)) } : {}),
            ...(next ? { nextPageToken: next } : {}),
          });
        }),
    },
    {
      path: KEY_PATH,
      endpoint: (ctx) => `apikeys.${keyMethod(ctx) ?? 'other'}`,
      handle: (ctx) =>
        run(ctx, keyMethod(ctx), async (method) => {
          const keyId = decodeURIComponent(ctx.match[3]);
          checkParent(
            ctx,
            `apikeys.keys.${method === 'getKeyString' ? 'getKeyString' : method.replace('Key', '')}`,
          );
          if (method === 'getKey' || method === 'getKeyString') {
            const key = keys.get(keyId);
            if (!key) throw new RpcError('NOT_FOUND', `Key ${keys.nameOf(keyId)} not found.`);
            sendJson(
              ctx.res,
              200,
              method === 'getKey' ? keyToJson(key, number) : { keyString: key.keyString },
            );
            return;
          }
          if (method === 'updateKey') {
            const input = parseKeyInput(await readJsonObject(ctx.req));
            const mask = ctx.url.searchParams.get('updateMask');
            const paths =
              mask === null
                ? undefined
                : mask
                    .split(',')
                    .map((p) => p.trim())
                    .filter((p) => p !== '');
            sendJson(ctx.res, 200, operation(keys.update(keyId, input, paths)));
            return;
          }
          if (method === 'deleteKey') {
            sendJson(
              ctx.res,
              200,
              operation(keys.delete(keyId, ctx.url.searchParams.get('etag') ?? undefined)),
            );
            return;
          }
          await readJsonObject(ctx.req);
          sendJson(ctx.res, 200, operation(keys.undelete(keyId)));
        }),
    },
  ];
}

function parsePageToken(token: string | null): number {
  if (!token) return 0;
  const offset = Number(Buffer.from(token, 'base64url').toString('utf8'));
  if (!Number.isInteger(offset) || offset < 0) throw new RpcError('INVALID_ARGUMENT', 'Invalid page_token.');
  return offset;
}
