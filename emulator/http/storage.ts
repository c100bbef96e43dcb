import type { ServerResponse } from 'node:http';
import { parseCelSubset } from '../cel-subset.js';
import type { EmulatedAccessBoundary, IssuedAccessToken } from '../state/issued-tokens.js';
import { bearerToken } from './bearer-auth.js';
import type { HttpDeps } from './deps.js';
import { sendJson } from './respond.js';
import type { Route } from './router.js';

/** Scopes that let a token read Cloud Storage objects. */
const READ_SCOPES = new Set([
  'https://www.googleapis.com/auth/cloud-platform',
  'https://www.googleapis.com/auth/cloud-platform.read-only',
  'https://www.googleapis.com/auth/devstorage.read_only',
  'https://www.googleapis.com/auth/devstorage.read_write',
  'https://www.googleapis.com/auth/devstorage.full_control',
]);
/** Predefined roles that hold `storage.objects.get`. */
const OBJECT_READ_ROLES = new Set([
  'inRole:roles/storage.objectViewer',
  'inRole:roles/storage.objectUser',
  'inRole:roles/storage.objectAdmin',
  'inRole:roles/storage.admin',
  'inRole:roles/storage.legacyObjectReader',
]);

/**
 * `GET /storage/v1/b/{bucket}/o/{object}` (endpoint `storage.objects.get`): Cloud Storage's JSON
 * API objects.get, reduced to its access check, so tests can prove what a (downscoped) token can
 * reach. Every object "exists" and bucket IAM is not modelled: the service account may read
 * everything, so the token's scopes and its Credential Access Boundaries are the only limits. A
 * boundary allows the read when one of its rules names the bucket
 * (`//storage.googleapis.com/projects/_/buckets/B`), lists a role holding `storage.objects.get`, and
 * its condition (emulator CEL subset) is true for `resource.name` = `projects/_/buckets/B/objects/O`,
 * `resource.type` = `storage.googleapis.com/Object`. Errors use Storage's JSON API body
 * (`{error: {code, message, errors: [{message, domain, reason}]}}`).
 */
export function storageRoutes(deps: HttpDeps): Route[] {
  return [
    {
      path: /^\/storage\/v1\/b\/([^/]+)\/o\/([^/]+)$/,
      endpoint: 'storage.objects.get',
      handle({ req, res, match }) {
        if (req.method !== 'GET') {
          storageError(res, 405, 'Method Not Allowed', 'methodNotAllowed');
          return;
        }
        let bucket: string;
        let object: string;
        try {
          bucket = decodeURIComponent(match[1]);
          object = decodeURIComponent(match[2]);
        } catch {
          storageError(res, 400, 'Invalid object name.', 'invalid');
          return;
        }
        const value = bearerToken(req);
        const token = value === undefined ? undefined : deps.state.tokens.active(value);
        if (!token) {
          storageError(res, 401, 'Invalid Credentials', 'authError', {
            locationType: 'header',
            location: 'Authorization',
          });
          return;
        }
        if (!token.scopes.some((s) => READ_SCOPES.has(s))) {
          storageError(res, 403, 'Insufficient Permission', 'insufficientPermissions');
          return;
        }
        if (!mayRead(token, bucket, object)) {
          storageError(
            res,
            403,
            `${token.email} does not have storage.objects.get access to the Google Cloud Storage object. Permission 'storage.objects.get' denied on resource (or it may not exist).`,
            'forbidden',
          );
          return;
        }
        sendJson(res, 200, {
          kind: 'storage#object',
          id: `${bucket}/${object}/1`,
          selfLink: `${deps.state.urls.httpUrl}/storage/v1/b/${encodeURIComponent(bucket)}/o/${encodeURIComponent(object)}`,
          name: object,
          bucket,
          generation: '1',
          metageneration: '1',
          contentType: 'application/octet-stream',
          size: '0',
        });
      },
    },
  ];
}

/** Every boundary the token carries must allow the read (an unbounded token may read anything). */
function mayRead(token: IssuedAccessToken, bucket: string, object: string): boolean {
  const resource = {
    name: `projects/_/buckets/${bucket}/objects/${object}`,
    type: 'storage.googleapis.com/Object',
    service: 'storage.googleapis.com',
  };
  const allows = (boundary: EmulatedAccessBoundary) =>
    boundary.accessBoundaryRules.some(
      (rule) =>
        rule.availableResource === `//storage.googleapis.com/projects/_/buckets/${bucket}` &&
        rule.availablePermissions.some((p) => OBJECT_READ_ROLES.has(p)) &&
        (rule.availabilityCondition === undefined ||
          parseCelSubset(rule.availabilityCondition.expression).evaluate(resource)),
    );
  return (token.accessBoundaries ?? []).every(allows);
}

function storageError(
  res: ServerResponse,
  status: number,
  message: string,
  reason: string,
  extra: Record<string, string> = {},
): void {
  sendJson(res, status, {
    error: { code: status, message, errors: [{ message, domain: 'global', reason, ...extra }] },
  });
}
