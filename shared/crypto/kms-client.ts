/**
 * Cloud KMS `encrypt` / `decrypt` over REST, with the end-to-end integrity fields Google
 * documents (cloud.google.com/kms/docs/data-integrity-guidelines): CRC32C of the plaintext and
 * the AAD on encrypt, checked back through `verifiedPlaintextCrc32c`,
 * `verifiedAdditionalAuthenticatedDataCrc32c` and `ciphertextCrc32c`; CRC32C of the ciphertext
 * and AAD on decrypt, checked back through `plaintextCrc32c`. int64 fields travel as decimal
 * strings (proto3 JSON). Used only to wrap and unwrap data keys: never a token.
 *
 * Permissions: `cloudkms.cryptoKeyVersions.useToEncrypt` / `useToDecrypt` on the one key
 * (see permission-manifest.ts). The base URL is configuration (`TVS_SHARED_CACHE_KMS_URL`).
 */
import { crc32c } from '../crc32c.js';
import { readGoogleError } from '../google-error.js';
import { postJsonWithBearer } from '../http/bounded-fetch.js';
import { parseJsonObject } from '../json.js';
import type { OwnCredential } from '../minting/own-credential.js';

export const KMS_DEFAULT_URL = 'https://cloudkms.googleapis.com';

/** Wraps and unwraps small secrets (data keys) under one KMS key. */
export interface KeyWrapper {
  encrypt(plaintext: Buffer, aad: Buffer, signal?: AbortSignal): Promise<Buffer>;
  decrypt(ciphertext: Buffer, aad: Buffer, signal?: AbortSignal): Promise<Buffer>;
}

/**
 * `unavailable`: KMS could not be reached or answered 5xx/429/401 (an outage: try later).
 * `refused`: KMS said no for good (403, 404, 400 — e.g. a ciphertext that is not ours).
 * `integrity`: the answer failed a CRC32C check.
 */
export type KmsFailure = 'unavailable' | 'refused' | 'integrity';

export class KmsError extends Error {
  override readonly name = 'KmsError';
  constructor(
    readonly kind: KmsFailure,
    /** Log-safe: method, HTTP status, Google status and reason; never key material. */
    readonly detail: string,
  ) {
    super(`Cloud KMS ${kind}: ${detail}`);
  }
}

export interface KmsClientOptions {
  /** `https://cloudkms.googleapis.com` or the emulator; no trailing slash. */
  baseUrl: string;
  /** `projects/P/locations/L/keyRings/R/cryptoKeys/K`. */
  keyName: string;
  credential: OwnCredential;
  timeoutMs: number;
  fetchImpl?: typeof fetch;
}

const MAX_RESPONSE_BYTES = 256 * 1024;

export function createKmsClient(options: KmsClientOptions): KeyWrapper {
  const call = async (
    method: 'encrypt' | 'decrypt',
    body: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<Record<string, unknown>> => {
    let token: string;
    try {
      token = await options.credential.accessToken();
    } catch {
      throw new KmsError('unavailable', `${method}: no access token for the service's own identity`);
    }
    let response;
    try {
      response = await postJsonWithBearer(`${options.baseUrl}/v1/${options.keyName}:${method}`, token, body, {
        timeoutMs: options.timeoutMs,
        maxBytes: MAX_RESPONSE_BYTES,
        signal,
        fetchImpl: options.fetchImpl,
      });
    } catch (err) {
      throw new KmsError('unavailable', `${method}: ${(err as Error).message}`);
    }
    const json = parseJsonObject(response.text);
    if (response.status === 200 && json) return json;
    const google = readGoogleError(json);
    const detail = `${method}: HTTP ${response.status} ${google.status ?? ''} ${google.reason ?? ''}`.trim();
    if (response.status === 401) options.credential.invalidate();
    if (
      response.status === 200 ||
      response.status === 401 ||
      response.status === 429 ||
      response.status >= 500
    )
      throw new KmsError('unavailable', detail);
    throw new KmsError('refused', detail);
  };

  return {
    async encrypt(plaintext, aad, signal) {
      const json = await call(
        'encrypt',
        {
          plaintext: plaintext.toString('base64'),
          plaintextCrc32c: String(crc32c(plaintext)),
          additionalAuthenticatedData: aad.toString('base64'),
          additionalAuthenticatedDataCrc32c: String(crc32c(aad)),
        },
        signal,
      );
      const ciphertext =
        typeof json.ciphertext === 'string' ? Buffer.from(json.ciphertext, 'base64') : undefined;
      if (
        json.verifiedPlaintextCrc32c !== true ||
        json.verifiedAdditionalAuthenticatedDataCrc32c !== true ||
        !ciphertext ||
        ciphertext.length === 0 ||
        json.ciphertextCrc32c !== String(crc32c(ciphertext))
      )
        throw new KmsError('integrity', 'encrypt: the response failed its CRC32C checks');
      // Google names the key version it used: it must be one of ours.
      if (typeof json.name !== 'string' || !json.name.startsWith(`${options.keyName}/cryptoKeyVersions/`))
        throw new KmsError('integrity', 'encrypt: the response names another key');
      return ciphertext;
    },
    async decrypt(ciphertext, aad, signal) {
      const json = await call(
        'decrypt',
        {
          ciphertext: ciphertext.toString('base64'),
          ciphertextCrc32c: String(crc32c(ciphertext)),
          additionalAuthenticatedData: aad.toString('base64'),
          additionalAuthenticatedDataCrc32c: String(crc32c(aad)),
        },
        signal,
      );
      const plaintext =
        typeof json.plaintext === 'string' ? Buffer.from(json.plaintext, 'base64') : undefined;
      if (!plaintext || json.plaintextCrc32c !== String(crc32c(plaintext)))
        throw new KmsError('integrity', 'decrypt: the response failed its CRC32C check');
      return plaintext;
    },
  };
}
