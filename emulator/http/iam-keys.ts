/**
 * IAM Admin API v1, service-account keys (`https://iam.googleapis.com/v1/...`), on the same
 * paths: create, list, get, disable, enable, delete. Endpoint names `iam.keys.create`,
 * `iam.keys.list`, `iam.keys.get`, `iam.keys.disable`, `iam.keys.enable`, `iam.keys.delete`.
 */
import type { ServiceAccount, ServiceAccountKey, KeyType } from '../state/service-accounts.js';
import { keyCreationBlocked } from '../state/org-policy.js';
import { StateError } from '../state/state-error.js';
import { requireAccessToken, CLOUD_PLATFORM_SCOPE } from './bearer-auth.js';
import type { HttpDeps } from './deps.js';
import { readJsonObject } from './read-json-object.js';
import { sendGoogleError, sendJson } from './respond.js';
import type { RequestContext, Route } from './router.js';
import { answerRpc, RpcError } from './rpc-error.js';

const SERVICE = 'iam.googleapis.com';
const IAM_SCOPE = 'https://www.googleapis.com/auth/iam';
const KEYS_PATH =
  /^\/v1\/projects\/([^/]+)\/serviceAccounts\/([^/]+)\/keys(?:\/([^/:]+)(?::(disable|enable))?)?$/;
const KEY_TYPES: readonly KeyType[] = ['USER_MANAGED', 'SYSTEM_MANAGED'];

type Operation = 'create' | 'list' | 'get' | 'disable' | 'enable' | 'delete';

const RPC_METHODS: Record<Operation, string> = {
  create: 'CreateServiceAccountKey',
  list: 'ListServiceAccountKeys',
  get: 'GetServiceAccountKey',
  disable: 'DisableServiceAccountKey',
  enable: 'EnableServiceAccountKey',
  delete: 'DeleteServiceAccountKey',
};

/** Which key operation a request is, or undefined when the method does not fit the path. */
function operationOf({ req, match }: RequestContext): Operation | undefined {
  const method = req.method ?? 'GET';
  const keyId = match[3];
  const verb = match[4] as 'disable' | 'enable' | undefined;
  if (keyId === undefined) return method === 'POST' ? 'create' : method === 'GET' ? 'list' : undefined;
  if (verb) return method === 'POST' ? verb : undefined;
  return method === 'GET' ? 'get' : method === 'DELETE' ? 'delete' : undefined;
}

/** Routes of the IAM service-account keys API. */
export function iamKeysRoutes(deps: HttpDeps): Route[] {
  const { state } = deps;

  function resolveAccount(projectSegment: string, accountSegment: string): ServiceAccount {
    const project = decodeURIComponent(projectSegment);
    const id = decodeURIComponent(accountSegment);
    const known = project === '-' || project === state.projectId || project === state.projectNumber;
    const account = known
      ? id.includes('@')
        ? state.serviceAccounts.get(id)
        : state.serviceAccounts.getByUniqueId(id)
      : undefined;
    if (!account) throw new RpcError('NOT_FOUND', 'Unknown service account');
    return account;
  }

  function resolveKey(account: ServiceAccount, keySegment: string): ServiceAccountKey {
    const keyId = decodeURIComponent(keySegment);
    const key = state.serviceAccounts.getKey(account.email, keyId);
    if (!key || key.state === 'DELETED')
      throw new RpcError('NOT_FOUND', `Service account key ${keyId} does not exist.`);
    return key;
  }

  function keyJson(account: ServiceAccount, key: ServiceAccountKey): Record<string, unknown> {
    return {
      name: `${account.name}/keys/${key.keyId}`,
      validAfterTime: key.validAfterTime,
      validBeforeTime: key.validBeforeTime,
      keyAlgorithm: key.keyAlgorithm,
      keyOrigin: key.keyOrigin,
      keyType: key.keyType,
      ...(key.state === 'DISABLED' ? { disabled: true } : {}),
    };
  }

  async function create(ctx: RequestContext, account: ServiceAccount): Promise<void> {
    const body = await readJsonObject(ctx.req);
    const privateKeyType = body.privateKeyType ?? 'TYPE_GOOGLE_CREDENTIALS_FILE';
    if (privateKeyType !== 'TYPE_GOOGLE_CREDENTIALS_FILE' && privateKeyType !== 'TYPE_UNSPECIFIED') {
      throw new RpcError(
        'INVALID_ARGUMENT',
        `The emulator only issues TYPE_GOOGLE_CREDENTIALS_FILE keys, not ${JSON.stringify(privateKeyType).slice(0, 40)}.`,
      );
    }
    const keyAlgorithm = body.keyAlgorithm ?? 'KEY_ALG_RSA_2048';
    if (keyAlgorithm !== 'KEY_ALG_RSA_2048' && keyAlgorithm !== 'KEY_ALG_UNSPECIFIED') {
      throw new RpcError(
        'INVALID_ARGUMENT',
        `Unsupported key algorithm ${JSON.stringify(keyAlgorithm).slice(0, 40)}.`,
      );
    }
    if (keyCreationBlocked(state.orgPolicy, account.email)) {
      const description = 'Key creation is not allowed on this service account.';
      throw new RpcError('FAILED_PRECONDITION', description, [
        {
          '@type': 'type.googleapis.com/google.rpc.PreconditionFailure',
          violations: [
            {
              type: 'constraints/iam.disableServiceAccountKeyCreation',
              subject: `${account.name}?configvalue=${encodeURIComponent(account.email)}`,
              description,
            },
          ],
        },
      ]);
    }
    const created = await state.serviceAccounts.createKey(account.email).catch((error: unknown) => {
      if (error instanceof StateError && error.code === 'FAILED_PRECONDITION')
        throw new RpcError('FAILED_PRECONDITION', 'Precondition check failed.');
      throw error;
    });
    sendJson(ctx.res, 200, {
      ...keyJson(account, created.key),
      privateKeyType: 'TYPE_GOOGLE_CREDENTIALS_FILE',
      privateKeyData: Buffer.from(JSON.stringify(created.keyFile, null, 2), 'utf8').toString('base64'),
    });
  }

  function list(ctx: RequestContext, account: ServiceAccount): void {
    const requested = ctx.url.searchParams.getAll('keyTypes');
    const unknown = requested.find((t) => t !== 'KEY_TYPE_UNSPECIFIED' && !KEY_TYPES.includes(t as KeyType));
    if (unknown !== undefined) {
      throw new RpcError(
        'INVALID_ARGUMENT',
        `Invalid value at 'key_types' (type.googleapis.com/google.iam.admin.v1.ListServiceAccountKeysRequest.KeyType), "${unknown.slice(0, 40)}"`,
      );
    }
    const keyTypes = requested.filter((t): t is KeyType => KEY_TYPES.includes(t as KeyType));
    const keys = state.serviceAccounts.listKeys(account.email, keyTypes.length > 0 ? { keyTypes } : {});
    sendJson(ctx.res, 200, keys.length > 0 ? { keys: keys.map((k) => keyJson(account, k)) } : {});
  }

  return [
    {
      path: KEYS_PATH,
      endpoint: (ctx) => `iam.keys.${operationOf(ctx) ?? 'other'}`,
      async handle(ctx) {
        const operation = operationOf(ctx);
        if (!operation) {
          sendGoogleError(
            ctx.res,
            404,
            `The requested URL ${ctx.url.pathname} was not found on this server.`,
          );
          return;
        }
        await answerRpc(ctx.res, async () => {
          const api = { service: SERVICE, method: `google.iam.admin.v1.IAM.${RPC_METHODS[operation]}` };
          requireAccessToken(state.tokens, ctx.req, api, [CLOUD_PLATFORM_SCOPE, IAM_SCOPE]);
          const account = resolveAccount(ctx.match[1], ctx.match[2]);
          if (operation === 'create') return create(ctx, account);
          if (operation === 'list') return list(ctx, account);
          const key = resolveKey(account, ctx.match[3]);
          if (operation === 'get') return sendJson(ctx.res, 200, keyJson(account, key));
          if (operation === 'disable') state.serviceAccounts.disableKey(account.email, key.keyId);
          else if (operation === 'enable') state.serviceAccounts.enableKey(account.email, key.keyId);
          else state.serviceAccounts.deleteKey(account.email, key.keyId);
          sendJson(ctx.res, 200, {});
        });
      },
    },
  ];
}
