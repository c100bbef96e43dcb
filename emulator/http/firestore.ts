/**
 * Firestore's REST document methods, the subset the user-grant store uses
 * (cloud.google.com/firestore/docs/reference/rest/v1/projects.databases.documents):
 * `GET` (get), `PATCH` (patch: `updateMask.fieldPaths`, `currentDocument.exists` /
 * `currentDocument.updateTime`; answers the stored `Document`) and `DELETE` (answers `{}`) on
 * `/v1/projects/{p}/databases/{d}/documents/{path}`. Google's checks: an active access token with
 * the cloud-platform or datastore scope, document names, `Value` JSON, preconditions, with Google's
 * codes and wording (emulator/state/firestore-documents.ts). Endpoint names (fault injection,
 * counters): `firestore.get`, `firestore.patch`, `firestore.delete`. Project IAM
 * (`roles/datastore.user`) is not modelled: any service account's token may use the database.
 */
import type { IncomingMessage } from 'node:http';
import type { FirestorePrecondition } from '../state/firestore-documents.js';
import { StateError } from '../state/state-error.js';
import { requireAccessToken } from './bearer-auth.js';
import type { HttpDeps } from './deps.js';
import { readJsonObject } from './read-json-object.js';
import { sendJson } from './respond.js';
import type { Route } from './router.js';
import { answerRpc, RpcError } from './rpc-error.js';

const ACCEPTED_SCOPES = [
  'https://www.googleapis.com/auth/cloud-platform',
  'https://www.googleapis.com/auth/datastore',
];
const METHODS: Readonly<Record<string, { endpoint: string; rpc: string }>> = {
  GET: { endpoint: 'firestore.get', rpc: 'GetDocument' },
  PATCH: { endpoint: 'firestore.patch', rpc: 'UpdateDocument' },
  DELETE: { endpoint: 'firestore.delete', rpc: 'DeleteDocument' },
};

export function firestoreRoutes(deps: HttpDeps): Route[] {
  const { state } = deps;
  return [
    {
      path: /^\/v1\/(projects\/[^/]+\/databases\/[^/]+\/documents\/.+)$/,
      endpoint: ({ req }) => METHODS[req.method ?? '']?.endpoint ?? 'firestore.other',
      handle: ({ req, res, url, match }) =>
        answerRpc(res, async () => {
          const method = METHODS[req.method ?? ''];
          if (!method) throw new RpcError('NOT_FOUND', 'Method not found.');
          requireAccessToken(
            state.tokens,
            req,
            { service: 'firestore.googleapis.com', method: `google.firestore.v1.Firestore.${method.rpc}` },
            ACCEPTED_SCOPES,
          );
          let name: string;
          try {
            name = match[1].split('/').map(decodeURIComponent).join('/');
          } catch {
            throw new RpcError('INVALID_ARGUMENT', 'Invalid resource name.');
          }
          try {
            if (req.method === 'GET') {
              sendJson(res, 200, wire(state.firestore.get(name)));
            } else if (req.method === 'DELETE') {
              state.firestore.delete(name, precondition(url));
              sendJson(res, 200, {});
            } else {
              const { fields, mask } = await patchBody(req, url, name);
              sendJson(res, 200, wire(state.firestore.patch(name, fields, mask, precondition(url))));
            }
          } catch (err) {
            if (err instanceof StateError) throw new RpcError(err.code, err.message);
            throw err;
          }
        }),
    },
  ];
}

async function patchBody(
  req: IncomingMessage,
  url: URL,
  name: string,
): Promise<{ fields: Record<string, unknown>; mask: string[] | undefined }> {
  const body = await readJsonObject(req);
  const unknown = Object.keys(body).find((k) => !['name', 'fields', 'createTime', 'updateTime'].includes(k));
  if (unknown !== undefined)
    throw new RpcError(
      'INVALID_ARGUMENT',
      `Invalid JSON payload received. Unknown name "${unknown}": Cannot find field.`,
    );
  if (body.name !== undefined && body.name !== name)
    throw new RpcError('INVALID_ARGUMENT', 'Document name in the request body does not match the URL.');
  const fields = body.fields ?? {};
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields))
    throw new RpcError('INVALID_ARGUMENT', "Invalid value at 'document.fields'");
  const paths = url.searchParams.getAll('updateMask.fieldPaths');
  return { fields: fields as Record<string, unknown>, mask: paths.length > 0 ? paths : undefined };
}

function precondition(url: URL): FirestorePrecondition | undefined {
  const exists = url.searchParams.get('currentDocument.exists');
  const updateTime = url.searchParams.get('currentDocument.updateTime');
  if (exists !== null && updateTime !== null)
    throw new RpcError('INVALID_ARGUMENT', 'A precondition can set only one of exists and update_time.');
  if (exists !== null) {
    if (exists !== 'true' && exists !== 'false')
      throw new RpcError(
        'INVALID_ARGUMENT',
        `Invalid value at 'current_document.exists' (TYPE_BOOL), "${exists}"`,
      );
    return { exists: exists === 'true' };
  }
  return updateTime === null ? undefined : { updateTime };
}

/** The REST `Document`: proto3 JSON leaves an empty `fields` map out. */
function wire(doc: {
  name: string;
  fields: Record<string, unknown>;
  createTime: string;
  updateTime: string;
}) {
  return {
    name: doc.name,
    ...(Object.keys(doc.fields).length > 0 ? { fields: doc.fields } : {}),
    createTime: doc.createTime,
    updateTime: doc.updateTime,
  };
}
