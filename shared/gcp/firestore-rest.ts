/**
 * Firestore (Native mode) documents over REST with the service's own access token: `get`,
 * `patch` with an update mask and a precondition (optimistic concurrency), `delete`. Enough for a
 * key-value use with compare-and-swap; no client library (the gRPC one is megabytes of cold start).
 *
 * Wire format, from Google's REST reference (cloud.google.com/firestore/docs/reference/rest/v1/
 * projects.databases.documents): `GET|PATCH|DELETE https://firestore.googleapis.com/v1/{name=projects/*\/
 * databases/*\/documents/*\/**}`, scope `datastore` or `cloud-platform`. `patch` takes the `Document`
 * (`{fields}`) as its body and `updateMask.fieldPaths` (repeated): fields in the mask but not in the
 * body are deleted, fields outside the mask are kept; `currentDocument.exists` or
 * `currentDocument.updateTime` (RFC 3339) is a precondition. It answers the stored `Document`
 * with its `updateTime`. Errors are Google's error model: a missing document 404 NOT_FOUND (for a
 * patch with `exists=true`: "No document to update: <name>"); a create over an existing one 409
 * ALREADY_EXISTS; a stale `updateTime` 400 FAILED_PRECONDITION ("the stored version (…) does not
 * match the required base version (…)"); contention 409 ABORTED. The REST front end answers 409 to
 * both ALREADY_EXISTS and ABORTED (googleapis/nodejs-firestore, firebase-admin-node#2587), so the
 * caller re-reads in both cases.
 */
import { InternalError, UpstreamUnavailable } from '../errors.js';
import { readGoogleError } from '../google-error.js';
import { FetchError, boundedFetch } from '../http/bounded-fetch.js';
import { parseRetryAfter } from '../http/retry.js';
import { isJsonObject, parseJson } from '../json.js';
import type { OwnCredential } from '../minting/own-credential.js';
import type { WireFields } from './firestore-values.js';

export const FIRESTORE_DEFAULT_URL = 'https://firestore.googleapis.com';

/** A stored document: its fields in wire form and its `updateTime` exactly as Google wrote it. */
export interface StoredDocument {
  name: string;
  fields: WireFields;
  /** Opaque to us: sent back verbatim in `currentDocument.updateTime`. */
  updateTime: string;
}

/** A write precondition: the document must (not) exist, or must still be the version read. */
export type Precondition = { exists: boolean } | { updateTime: string };

export interface FirestoreDocuments {
  /** The document at `path` (relative to the database's `documents`), or undefined. */
  get(path: string): Promise<StoredDocument | undefined>;
  /**
   * Writes the fields in `mask` (those absent from `fields` are deleted); `'conflict'` when the
   * precondition did not hold (the caller re-reads and tries again).
   */
  patch(
    path: string,
    fields: WireFields,
    mask: readonly string[],
    precondition?: Precondition,
  ): Promise<StoredDocument | 'conflict'>;
  /** Deletes the document (absent is fine); `'conflict'` when the precondition did not hold. */
  delete(path: string, precondition?: Precondition): Promise<void | 'conflict'>;
}

export interface FirestoreDocumentsOptions {
  /** `https://firestore.googleapis.com` or the emulator; no trailing slash needed. */
  firestoreUrl: string;
  projectId: string;
  /** Default `(default)`. */
  databaseId?: string;
  credential: OwnCredential;
  /** Per-attempt deadline (default 5 s). */
  timeoutMs?: number;
  /** Attempts for transient failures (5xx, 429, network), default 3. */
  maxAttempts?: number;
  fetchImpl?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
}

/** Grant documents are small; Google's own documents are at most 1 MiB. */
const MAX_RESPONSE_BYTES = 1024 * 1024 + 64 * 1024;
/** A path of collection/document segments, none empty, `.`/`..` or containing a slash. */
const SEGMENT = /^(?!\.\.?$)[^/]{1,1500}$/;

export function createFirestoreDocuments(options: FirestoreDocumentsOptions): FirestoreDocuments {
  const base = options.firestoreUrl.replace(/\/+$/, '');
  const database = `projects/${options.projectId}/databases/${options.databaseId ?? '(default)'}`;
  const timeoutMs = options.timeoutMs ?? 5_000;
  const maxAttempts = options.maxAttempts ?? 3;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));

  const nameOf = (path: string): string => {
    const segments = path.split('/');
    if (segments.length % 2 !== 0 || !segments.every((s) => SEGMENT.test(s)))
      throw new TypeError('firestore: a document path is collection/id pairs');
    return `${database}/documents/${path}`;
  };
  const urlOf = (name: string, query: URLSearchParams): string => {
    const encoded = name
      .split('/')
      .map((s) => encodeURIComponent(s).replace(/%28/g, '(').replace(/%29/g, ')'))
      .join('/');
    const q = query.toString();
    return `${base}/v1/${encoded}${q ? `?${q}` : ''}`;
  };

  /** One call, retried on transient failures; answers the status and parsed body of the last attempt. */
  const call = async (
    what: 'get' | 'patch' | 'delete',
    url: string,
    method: 'GET' | 'PATCH' | 'DELETE',
    body?: unknown,
  ): Promise<{ status: number; json: unknown }> => {
    let renewedToken = false;
    for (let attempt = 1; ; attempt++) {
      let failure: UpstreamUnavailable;
      try {
        const result = await once(what, url, method, body);
        if (result.status === 401 && !renewedToken) {
          // The token may have been revoked or expired early: once more with a fresh one.
          options.credential.invalidate();
          renewedToken = true;
          attempt--;
          continue;
        }
        if (result.status !== 401 && result.status !== 429 && result.status < 500) return result;
        failure = unavailable(what, `HTTP ${result.status} ${readGoogleError(result.json).status ?? ''}`, {
          retryAfterMs: parseRetryAfter(result.retryAfter, Date.now()),
        });
      } catch (err) {
        if (!(err instanceof UpstreamUnavailable)) throw err;
        failure = err;
      }
      if (attempt >= maxAttempts) throw failure;
      await sleep(Math.max(failure.retryAfterMs ?? 0, 100 * 2 ** (attempt - 1)));
    }
  };

  const once = async (
    what: string,
    url: string,
    method: 'GET' | 'PATCH' | 'DELETE',
    body?: unknown,
  ): Promise<{ status: number; json: unknown; retryAfter: string | null }> => {
    let token: string;
    try {
      token = await options.credential.accessToken();
    } catch (err) {
      throw unavailable(what, "no access token for the service's own identity", { cause: err });
    }
    try {
      const response = await boundedFetch(url, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        timeoutMs,
        maxBytes: MAX_RESPONSE_BYTES,
        ...(options.fetchImpl ? { fetchImpl: options.fetchImpl } : {}),
      });
      return {
        status: response.status,
        json: response.text === '' ? undefined : parseJson(response.text),
        retryAfter: response.headers.get('retry-after'),
      };
    } catch (err) {
      if (err instanceof FetchError) throw unavailable(what, err.kind, { cause: err });
      throw err;
    }
  };

  const isConflict = (status: number, json: unknown): boolean => {
    const googleStatus = readGoogleError(json).status;
    return (
      status === 409 ||
      (status === 400 && googleStatus === 'FAILED_PRECONDITION') ||
      // A patch with `exists=true` / `updateTime` on a document that is gone.
      status === 404
    );
  };

  return {
    async get(path) {
      const name = nameOf(path);
      const { status, json } = await call('get', urlOf(name, new URLSearchParams()), 'GET');
      if (status === 404) return undefined;
      if (status !== 200) throw refused('get', status, json);
      return documentOf('get', json);
    },

    async patch(path, fields, mask, precondition) {
      const name = nameOf(path);
      const query = new URLSearchParams();
      for (const field of mask) query.append('updateMask.fieldPaths', field);
      appendPrecondition(query, precondition);
      const { status, json } = await call('patch', urlOf(name, query), 'PATCH', { fields });
      if (status === 200) return documentOf('patch', json);
      if (precondition !== undefined && isConflict(status, json)) return 'conflict';
      throw refused('patch', status, json);
    },

    async delete(path, precondition) {
      const name = nameOf(path);
      const query = new URLSearchParams();
      appendPrecondition(query, precondition);
      const { status, json } = await call('delete', urlOf(name, query), 'DELETE');
      if (status === 200) return;
      if (precondition !== undefined && isConflict(status, json)) return 'conflict';
      throw refused('delete', status, json);
    },
  };
}

function appendPrecondition(query: URLSearchParams, precondition: Precondition | undefined): void {
  if (precondition === undefined) return;
  if ('exists' in precondition) query.set('currentDocument.exists', String(precondition.exists));
  else query.set('currentDocument.updateTime', precondition.updateTime);
}

function documentOf(what: string, json: unknown): StoredDocument {
  if (!isJsonObject(json) || typeof json.name !== 'string' || typeof json.updateTime !== 'string')
    throw new InternalError('Internal error.', {
      reason: 'FIRESTORE_ERROR',
      detail: `firestore ${what}: the answer is not a Document`,
    });
  const fields = json.fields === undefined ? {} : json.fields;
  if (!isJsonObject(fields))
    throw new InternalError('Internal error.', {
      reason: 'FIRESTORE_ERROR',
      detail: `firestore ${what}: the answer's fields are not an object`,
    });
  return { name: json.name, fields, updateTime: json.updateTime };
}

function unavailable(
  what: string,
  why: string,
  extra: { cause?: unknown; retryAfterMs?: number | undefined } = {},
): UpstreamUnavailable {
  return new UpstreamUnavailable('The upstream service is unavailable; try again later.', {
    reason: 'FIRESTORE_UNAVAILABLE',
    detail: `firestore ${what}: ${why}`.trim(),
    cause: extra.cause,
    ...(extra.retryAfterMs === undefined ? {} : { retryAfterMs: extra.retryAfterMs }),
  });
}

/**
 * Firestore said no for good (403 without the role, 400 for a bad value, …): INTERNAL for our
 * caller, with Google's status and reason for the log. Google's message is left out: it may quote
 * a field's value.
 */
function refused(what: string, status: number, json: unknown): InternalError {
  const google = readGoogleError(json);
  return new InternalError('Internal error.', {
    reason: 'FIRESTORE_ERROR',
    detail: `firestore ${what}: HTTP ${status} ${google.status ?? ''} ${google.reason ?? ''}`.trim(),
    metadata: { googleStatus: google.status ?? '' },
  });
}
