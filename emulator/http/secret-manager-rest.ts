/**
 * Secret Manager's REST surface for the one method the token function calls over HTTP:
 * `GET /v1/{name=projects/*\/secrets/*\/versions/*}:access` (AccessSecretVersion), answering
 * `{name, payload: {data (base64), dataCrc32c (int64 as a decimal string)}}` as Google's REST
 * reference documents. It reads the same store as the emulator's gRPC service, so a secret written
 * over gRPC (the rotation function, the seed) is read here, and it shares that method's endpoint
 * name, `secretmanager.AccessSecretVersion`, for fault injection and call counts. Google requires
 * an OAuth access token with the cloud-platform scope; errors are Google's JSON error model with the
 * same status and message the gRPC service sends.
 */
import { SecretManagerError } from '../secret-manager/secret-manager-error.js';
import { requireAccessToken } from './bearer-auth.js';
import type { HttpDeps } from './deps.js';
import { sendJson } from './respond.js';
import type { Route } from './router.js';
import { answerRpc, RpcError, type RpcCode } from './rpc-error.js';

const METHOD = {
  service: 'secretmanager.googleapis.com',
  method: 'google.cloud.secretmanager.v1.SecretManagerService.AccessSecretVersion',
};

export function secretManagerRestRoutes(deps: HttpDeps): Route[] {
  const { state } = deps;
  return [
    {
      path: /^\/v1\/(projects\/[^/]+\/secrets\/[^/]+\/versions\/[^/:]+):access$/,
      endpoint: 'secretmanager.AccessSecretVersion',
      handle: ({ req, res, match }) =>
        answerRpc(res, () => {
          if (req.method !== 'GET') throw new RpcError('NOT_FOUND', 'Method not found.');
          requireAccessToken(state.tokens, req, METHOD);
          let accessed;
          try {
            accessed = state.secrets.accessVersion(decodeURIComponent(match[1]));
          } catch (err) {
            if (err instanceof SecretManagerError && err.status in REST_CODES)
              throw new RpcError(err.status as RpcCode, err.message);
            throw err;
          }
          sendJson(res, 200, {
            name: accessed.name,
            payload: { data: accessed.data.toString('base64'), dataCrc32c: String(accessed.dataCrc32c) },
          });
        }),
    },
  ];
}

/** The gRPC statuses AccessSecretVersion answers, which the REST surface maps to HTTP the same way Google does. */
const REST_CODES: Partial<Record<string, true>> = {
  INVALID_ARGUMENT: true,
  NOT_FOUND: true,
  PERMISSION_DENIED: true,
  FAILED_PRECONDITION: true,
  UNAVAILABLE: true,
};
