/**
 * Reads secret versions over Secret Manager's REST API (`GET {endpoint}/v1/{name}:access`, the
 * documented AccessSecretVersion method) with the service's own access token: what the token
 * function reads (its policy, its SA keys, the shared tier's AUTH string) needs only this one
 * method, and the gRPC client library costs ~250 ms of module loading before the first read —
 * on the cold-start path when the policy lives in Secret Manager (docs/performance.md, 3e).
 * Errors map like the gRPC adapter's ({@link mapGrpcError}), by the status name Google's error
 * model carries; the payload's CRC32C is checked when the server sends it.
 *
 * Wire format, from Google's REST reference (cloud.google.com/secret-manager/docs/reference/rest/v1/
 * projects.secrets.versions/access): `GET https://secretmanager.googleapis.com/v1/{name=projects/*\/
 * secrets/*\/versions/*}:access`, empty body, scope `cloud-platform`, permission
 * `secretmanager.versions.access`; the answer is `{name, payload: {data, dataCrc32c}}` with `data`
 * base64 (proto3 JSON `bytes`) and `dataCrc32c` an int64 as a decimal string.
 */
import { crc32c } from '../crc32c.js';
import { FetchError, boundedFetch } from '../http/bounded-fetch.js';
import { codeForHttpStatus, readGoogleError } from '../google-error.js';
import type { OwnCredential } from '../minting/own-credential.js';
import { InternalError } from '../errors.js';
import { mapGrpcError, type SecretAccessor } from './secret-access.js';

/** Secret payloads are at most 64 KiB; base64 and the JSON envelope stay well under this. */
const MAX_RESPONSE_BYTES = 128 * 1024;
/** Without a caller deadline: the client library's default for this method is 60 s. */
const DEFAULT_TIMEOUT_MS = 30_000;
const FIRST_BACKOFF_MS = 100;

/** gRPC code numbers of Google's status names, for {@link mapGrpcError}. */
const GRPC_CODE: Readonly<Record<string, number>> = {
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
};
const RETRIED = new Set([8, 14, 4]);

export interface RestSecretAccessorOptions {
  /** `https://secretmanager.googleapis.com`, or the emulator's HTTP URL. */
  endpoint: string;
  credential: OwnCredential;
  fetchImpl?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
}

/** An error shaped like a gRPC status, so both adapters map failures the same way. */
class StatusError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'SecretManagerStatus';
  }
}

export function createRestSecretAccessor(options: RestSecretAccessorOptions): SecretAccessor {
  const base = options.endpoint.replace(/\/+$/, '');
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));

  const once = async (versionName: string, deadline: number): Promise<{ name: string; data: Buffer }> => {
    let token: string;
    try {
      token = await options.credential.accessToken();
    } catch {
      throw new StatusError(14, "could not obtain the service's own access token");
    }
    let response;
    try {
      response = await boundedFetch(`${base}/v1/${versionName}:access`, {
        headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
        timeoutMs: Math.max(1, deadline - Date.now()),
        maxBytes: MAX_RESPONSE_BYTES,
        ...(options.fetchImpl ? { fetchImpl: options.fetchImpl } : {}),
      });
    } catch (err) {
      const timedOut = err instanceof FetchError && err.kind === 'timeout';
      throw new StatusError(timedOut ? 4 : 14, timedOut ? 'deadline exceeded' : 'unreachable');
    }
    let body: unknown;
    try {
      body = JSON.parse(response.text);
    } catch {
      body = undefined;
    }
    if (response.status !== 200) {
      if (response.status === 401) options.credential.invalidate();
      const { status, message } = readGoogleError(body);
      const name = status ?? codeForHttpStatus(response.status) ?? 'INTERNAL';
      throw new StatusError(
        GRPC_CODE[name] ?? (response.status >= 500 ? 14 : 13),
        `${response.status} ${name}: ${message ?? ''}`,
      );
    }
    return decodeAccessResponse(body, versionName);
  };

  return {
    async access(versionName, accessOptions = {}) {
      const deadline = Date.now() + (accessOptions.timeoutMs ?? DEFAULT_TIMEOUT_MS);
      let renewedToken = false;
      for (let backoff = FIRST_BACKOFF_MS; ; backoff *= 2) {
        try {
          return await once(versionName, deadline);
        } catch (err) {
          // A 401 after the token was invalidated: one more try with a fresh token, at once.
          if (err instanceof StatusError && err.code === 16 && !renewedToken) {
            renewedToken = true;
            continue;
          }
          const retry =
            accessOptions.retry !== false &&
            err instanceof StatusError &&
            RETRIED.has(err.code) &&
            Date.now() + backoff < deadline;
          if (!retry) throw err instanceof StatusError ? mapGrpcError(err, versionName) : err;
          await sleep(backoff);
        }
      }
    },
  };
}

/** `{name, payload: {data: base64, dataCrc32c?: "int64"}}` → name and bytes, checksum checked. */
function decodeAccessResponse(body: unknown, versionName: string): { name: string; data: Buffer } {
  const malformed = () =>
    new InternalError('Internal error.', {
      reason: 'SECRET_MANAGER_ERROR',
      detail: `Secret Manager ${versionName}: the access response is not an AccessSecretVersionResponse`,
    });
  if (typeof body !== 'object' || body === null) throw malformed();
  const { name, payload } = body as { name?: unknown; payload?: unknown };
  if (typeof payload !== 'object' || payload === null) throw malformed();
  const { data, dataCrc32c } = payload as { data?: unknown; dataCrc32c?: unknown };
  if (data !== undefined && typeof data !== 'string') throw malformed();
  const bytes = Buffer.from(data ?? '', 'base64');
  if (dataCrc32c !== undefined && dataCrc32c !== null && Number(dataCrc32c) !== crc32c(bytes)) {
    throw new InternalError('Internal error.', {
      reason: 'SECRET_CHECKSUM_MISMATCH',
      detail: `CRC32C mismatch reading ${versionName}`,
    });
  }
  return { name: typeof name === 'string' ? name : versionName, data: bytes };
}
