/**
 * Cloud KMS `cryptoKeys.encrypt` and `cryptoKeys.decrypt` (REST, `cloudkms.googleapis.com/v1`)
 * with Google's checks: an active access token with the cloud-platform or cloudkms scope, the
 * method's permission on the key (`cloudkms.cryptoKeyVersions.useToEncrypt` / `useToDecrypt`),
 * base64 bytes fields, plaintext and AAD ≤ 64 KiB (SOFTWARE keys), the optional CRC32C fields
 * checked when sent (`verified*Crc32c` set only then; int64 as decimal strings), and Google's
 * error bodies. Endpoint names (fault injection, counters): `cloudkms.encrypt`,
 * `cloudkms.decrypt`; per-key counters: `state.kms.calls(name)`.
 *
 * Wording from Google where we found it (docs/shared-cache.md lists the sources): PERMISSION_DENIED
 * "Permission '…' denied on resource '…' (or it may not exist).", decrypt failures "Decryption
 * failed: verify that 'name' refers to the correct CryptoKey." and "Decryption failed: the
 * ciphertext is invalid.", CRC32C "The checksum in field … did not match the data in field …".
 * The size and missing-field messages are the emulator's.
 */
import { crc32c } from '../../shared/crc32c.js';
import { KMS_PERMISSIONS } from '../state/kms-keys.js';
import { requireAccessToken } from './bearer-auth.js';
import type { HttpDeps } from './deps.js';
import { readJsonObject } from './read-json-object.js';
import { sendJson } from './respond.js';
import type { Route } from './router.js';
import { answerRpc, errorInfo, RpcError } from './rpc-error.js';

const SERVICE = 'cloudkms.googleapis.com';
const ACCEPTED_SCOPES = [
  'https://www.googleapis.com/auth/cloud-platform',
  'https://www.googleapis.com/auth/cloudkms',
];
const MAX_BYTES = 64 * 1024;

type Method = 'encrypt' | 'decrypt';

export function kmsRoutes(deps: HttpDeps): Route[] {
  const { state } = deps;
  return [
    {
      // encrypt accepts a CryptoKey or one of its versions; decrypt a CryptoKey only.
      path: /^\/v1\/(projects\/[^/]+\/locations\/[^/]+\/keyRings\/[^/]+\/cryptoKeys\/[^/:]+)(?:\/cryptoKeyVersions\/([^/:]+))?:(encrypt|decrypt)$/,
      endpoint: ({ match }) => `cloudkms.${match[3]}`,
      handle: ({ req, res, match }) =>
        answerRpc(res, async () => {
          const method = match[3] as Method;
          const keyName = decodeURIComponent(match[1]);
          if (req.method !== 'POST') throw new RpcError('NOT_FOUND', 'Method not found.');
          if (match[2] !== undefined && method === 'decrypt')
            throw new RpcError(
              'NOT_FOUND',
              `The requested URL ${req.url ?? ''} was not found on this server.`,
            );
          const caller = requireAccessToken(
            state.tokens,
            req,
            {
              service: SERVICE,
              method: `google.cloud.kms.v1.KeyManagementService.${method === 'encrypt' ? 'Encrypt' : 'Decrypt'}`,
            },
            ACCEPTED_SCOPES,
          );
          const body = await readJsonObject(req);
          const resource = match[2] === undefined ? keyName : `${keyName}/cryptoKeyVersions/${match[2]}`;
          const permission = KMS_PERMISSIONS[method];
          // A missing key is NOT_FOUND only to a caller who may use it; Google hides it otherwise.
          if (!state.kms.has(keyName)) throw new RpcError('NOT_FOUND', `CryptoKey ${keyName} not found.`);
          state.kms.count(keyName, method);
          if (!state.kms.allows(keyName, `serviceAccount:${caller.email}`, permission))
            throw new RpcError(
              'PERMISSION_DENIED',
              `Permission '${permission}' denied on resource '${resource}' (or it may not exist).`,
              [errorInfo('IAM_PERMISSION_DENIED', { permission, resource }, 'cloudkms.googleapis.com')],
            );
          if (method === 'encrypt') encrypt(res, keyName, match[2], body);
          else decrypt(res, keyName, body);
        }),
    },
  ];

  function encrypt(
    res: Parameters<typeof sendJson>[0],
    keyName: string,
    version: string | undefined,
    body: Record<string, unknown>,
  ): void {
    const plaintext = bytesField(body, 'plaintext', true)!;
    const aad = bytesField(body, 'additionalAuthenticatedData', false) ?? Buffer.alloc(0);
    if (plaintext.length > MAX_BYTES)
      throw badRequest('plaintext', `The plaintext must be no larger than ${MAX_BYTES} bytes.`);
    if (aad.length > MAX_BYTES)
      throw badRequest(
        'additional_authenticated_data',
        `The additional authenticated data must be no larger than ${MAX_BYTES} bytes.`,
      );
    const verifiedPlaintext = checksum(body, 'plaintextCrc32c', 'plaintext_crc32c', 'plaintext', plaintext);
    const verifiedAad = checksum(
      body,
      'additionalAuthenticatedDataCrc32c',
      'additional_authenticated_data_crc32c',
      'additional_authenticated_data',
      aad,
    );
    if (version !== undefined && !/^[1-9]\d*$/.test(version))
      throw new RpcError('NOT_FOUND', `CryptoKeyVersion ${keyName}/cryptoKeyVersions/${version} not found.`);
    const result = state.kms.encrypt(
      keyName,
      plaintext,
      aad,
      version === undefined ? undefined : Number(version),
    );
    if ('disabled' in result)
      throw new RpcError(
        'FAILED_PRECONDITION',
        `${result.disabled} is not enabled, current state is: DISABLED.`,
      );
    // proto3 JSON leaves false booleans out, as Google's responses do.
    sendJson(res, 200, {
      name: result.versionName,
      ciphertext: result.ciphertext.toString('base64'),
      ciphertextCrc32c: String(crc32c(result.ciphertext)),
      ...(verifiedPlaintext ? { verifiedPlaintextCrc32c: true } : {}),
      ...(verifiedAad ? { verifiedAdditionalAuthenticatedDataCrc32c: true } : {}),
      protectionLevel: 'SOFTWARE',
    });
  }

  function decrypt(
    res: Parameters<typeof sendJson>[0],
    keyName: string,
    body: Record<string, unknown>,
  ): void {
    const ciphertext = bytesField(body, 'ciphertext', true)!;
    const aad = bytesField(body, 'additionalAuthenticatedData', false) ?? Buffer.alloc(0);
    if (aad.length > MAX_BYTES)
      throw badRequest(
        'additional_authenticated_data',
        `The additional authenticated data must be no larger than ${MAX_BYTES} bytes.`,
      );
    checksum(body, 'ciphertextCrc32c', 'ciphertext_crc32c', 'ciphertext', ciphertext);
    checksum(
      body,
      'additionalAuthenticatedDataCrc32c',
      'additional_authenticated_data_crc32c',
      'additional_authenticated_data',
      aad,
    );
    const result = state.kms.decrypt(keyName, ciphertext, aad);
    if ('failure' in result) {
      if (result.failure === 'VERSION_DISABLED')
        throw new RpcError(
          'FAILED_PRECONDITION',
          `${result.versionName} is not enabled, current state is: DISABLED.`,
        );
      throw new RpcError(
        'INVALID_ARGUMENT',
        result.failure === 'MALFORMED'
          ? 'Decryption failed: the ciphertext is invalid.'
          : "Decryption failed: verify that 'name' refers to the correct CryptoKey.",
      );
    }
    sendJson(res, 200, {
      plaintext: result.plaintext.toString('base64'),
      plaintextCrc32c: String(crc32c(result.plaintext)),
      ...(result.usedPrimary ? { usedPrimary: true } : {}),
      protectionLevel: 'SOFTWARE',
    });
  }
}

/** A `bytes` field (base64 in JSON); INVALID_ARGUMENT when malformed, or missing but required. */
function bytesField(body: Record<string, unknown>, field: string, required: boolean): Buffer | undefined {
  const value = body[field];
  if (value === undefined || value === '') {
    if (required) throw badRequest(snake(field), `${snake(field)} is required.`);
    return undefined;
  }
  // Google's JSON parser accepts standard and URL-safe base64, padded or not.
  if (
    typeof value !== 'string' ||
    !/^[A-Za-z0-9+/_-]*={0,2}$/.test(value) ||
    value.replace(/=+$/, '').length % 4 === 1
  )
    throw new RpcError(
      'INVALID_ARGUMENT',
      `Invalid value at '${field}' (TYPE_BYTES), Base64 decoding failed`,
      [fieldViolation(field, `Invalid value at '${field}' (TYPE_BYTES), Base64 decoding failed`)],
    );
  return Buffer.from(value, value.includes('-') || value.includes('_') ? 'base64url' : 'base64');
}

/** Checks an optional CRC32C field (int64 as a decimal string or number); true when one was sent and matched. */
function checksum(
  body: Record<string, unknown>,
  field: string,
  snakeField: string,
  dataField: string,
  data: Buffer,
): boolean {
  const value = body[field];
  if (value === undefined || value === null) return false;
  const text = typeof value === 'number' ? String(value) : value;
  if (typeof text !== 'string' || !/^\d+$/.test(text))
    throw new RpcError('INVALID_ARGUMENT', `Invalid value at '${field}' (TYPE_INT64)`, [
      fieldViolation(field, `Invalid value at '${field}' (TYPE_INT64)`),
    ]);
  if (Number(text) !== crc32c(data))
    throw badRequest(
      snakeField,
      `The checksum in field ${snakeField} did not match the data in field ${dataField}.`,
    );
  return true;
}

function badRequest(field: string, message: string): RpcError {
  return new RpcError('INVALID_ARGUMENT', message, [fieldViolation(field, message)]);
}

function fieldViolation(field: string, description: string): Record<string, unknown> {
  return { '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field, description }] };
}

function snake(field: string): string {
  return field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
