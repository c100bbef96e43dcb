import type { IncomingMessage } from 'node:http';
import { CelSubsetError, parseCelSubset } from '../cel-subset.js';
import type { EmulatedAccessBoundary } from '../state/issued-tokens.js';
import type { HttpDeps } from './deps.js';
import { sendOAuthError } from './oauth-error.js';
import { mediaType, readBody, sendGoogleError, sendJson } from './respond.js';
import type { Route } from './router.js';

const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const NO_STORE = { 'Cache-Control': 'no-cache, no-store, max-age=0, must-revalidate', Pragma: 'no-cache' };

/** Google's documented limits (cloud.google.com/iam/docs/reference/sts/rest/v1/AccessBoundary). */
export const MAX_BOUNDARY_RULES = 10;
export const MAX_CONDITION_CHARS = 2048;

class StsRefusal extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
  ) {
    super(description);
  }
}
const invalidRequest = (description: string) => new StsRefusal(400, 'invalid_request', description);

/**
 * `POST /v1/token` (endpoint `sts.token`): Google STS's token exchange, as far as downscoping with
 * Credential Access Boundaries goes: an emulator-issued access token as `subject_token`, the boundary
 * in `options`. Errors are STS's `{error, error_description}`; the error codes follow RFC 8693/6749
 * as STS uses them, the descriptions are the emulator's own words (Google's exact texts are not
 * documented). Workload Identity Federation exchanges (external subject tokens) are not emulated.
 */
export function stsRoutes(deps: HttpDeps): Route[] {
  const { state } = deps;
  return [
    {
      path: /^\/v1\/token$/,
      endpoint: 'sts.token',
      // Injected 4xx answer in STS's OAuth shape; 5xx keep Google's JSON error model (what STS's
      // front end sends for those is not documented).
      faultResponder: ({ res }, status, headers) => {
        if (status >= 500) sendGoogleError(res, status, undefined, headers);
        else sendOAuthError(res, status, 'invalid_request', 'Injected fault.', headers);
      },
      async handle({ req, res }) {
        const nowMs = Date.now();
        try {
          const form = await readForm(req);
          const boundary = readRequest(form);
          const subject = state.tokens.active(form.get('subject_token') ?? '', nowMs);
          // STS refuses a source token Google did not issue or that expired (unsure of the exact text).
          if (!subject)
            throw new StsRefusal(400, 'invalid_grant', 'The subject token is invalid or has expired.');
          // The downscoped token has the source's expiry (google-auth-library falls back to it too).
          const token = state.tokens.issue({
            email: subject.email,
            scopes: subject.scopes,
            issuedBy: 'sts.token',
            nowMs,
            lifetimeSeconds: (subject.expiresAtMs - nowMs) / 1000,
            accessBoundaries: [...(subject.accessBoundaries ?? []), boundary],
          });
          sendJson(
            res,
            200,
            {
              access_token: token.value,
              issued_token_type: ACCESS_TOKEN_TYPE,
              token_type: 'Bearer',
              expires_in: Math.floor((token.expiresAtMs - nowMs) / 1000),
            },
            NO_STORE,
          );
        } catch (err) {
          if (!(err instanceof StsRefusal)) throw err;
          sendOAuthError(res, err.status, err.error, err.description);
        }
      },
    },
  ];
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  if (req.method !== 'POST') throw new StsRefusal(405, 'invalid_request', 'Use POST.');
  // STS also takes a JSON body (grantType, ...); the client libraries send a form, so does the product.
  if (mediaType(req) !== 'application/x-www-form-urlencoded')
    throw invalidRequest('Content-Type must be application/x-www-form-urlencoded.');
  return new URLSearchParams((await readBody(req)).toString('utf8'));
}

/** Validates the exchange and returns the boundary it asks for. */
function readRequest(form: URLSearchParams): EmulatedAccessBoundary {
  const grantType = form.get('grant_type');
  if (grantType !== TOKEN_EXCHANGE_GRANT)
    throw new StsRefusal(
      400,
      'unsupported_grant_type',
      `Invalid grant_type: ${(grantType ?? '').slice(0, 100)}`,
    );
  if (form.get('requested_token_type') !== ACCESS_TOKEN_TYPE)
    throw invalidRequest(`requested_token_type must be ${ACCESS_TOKEN_TYPE}.`);
  if (form.get('subject_token_type') !== ACCESS_TOKEN_TYPE)
    throw invalidRequest(
      `The emulator's STS only downscopes access tokens: subject_token_type must be ${ACCESS_TOKEN_TYPE}.`,
    );
  if (!form.get('subject_token')) throw invalidRequest('subject_token is required.');
  const raw = form.get('options');
  if (!raw) throw invalidRequest('options with an accessBoundary is required to downscope an access token.');
  let options: unknown;
  try {
    options = JSON.parse(raw);
  } catch {
    throw invalidRequest('options must be a JSON object.');
  }
  const boundary = field(options, 'accessBoundary');
  const rules = field(boundary, 'accessBoundaryRules');
  if (!Array.isArray(rules) || rules.length === 0)
    throw invalidRequest('accessBoundary.accessBoundaryRules must be a non-empty list.');
  if (rules.length > MAX_BOUNDARY_RULES)
    throw invalidRequest(`An access boundary can contain at most ${MAX_BOUNDARY_RULES} rules.`);
  return { accessBoundaryRules: rules.map((rule: unknown, i) => readRule(rule, i)) };
}

function readRule(rule: unknown, i: number): EmulatedAccessBoundary['accessBoundaryRules'][number] {
  const where = `accessBoundaryRules[${i}]`;
  const resource = field(rule, 'availableResource');
  if (typeof resource !== 'string' || !resource.startsWith('//'))
    throw invalidRequest(`${where}.availableResource is required and must be a full resource name.`);
  const permissions = field(rule, 'availablePermissions');
  if (!Array.isArray(permissions) || permissions.length === 0)
    throw invalidRequest(`${where}.availablePermissions must be a non-empty list.`);
  for (const p of permissions)
    if (typeof p !== 'string' || !/^inRole:\S+\/roles\/\S+$|^inRole:roles\/\S+$/.test(p))
      throw invalidRequest(
        `${where}.availablePermissions: only IAM roles in the form inRole:roles/ROLE are supported.`,
      );
  const condition = field(rule, 'availabilityCondition');
  if (condition === undefined)
    return { availableResource: resource, availablePermissions: permissions as string[] };
  const expression = field(condition, 'expression');
  if (typeof expression !== 'string' || expression === '')
    throw invalidRequest(`${where}.availabilityCondition.expression is required.`);
  if (expression.length > MAX_CONDITION_CHARS)
    throw invalidRequest(
      `${where}.availabilityCondition.expression is longer than ${MAX_CONDITION_CHARS} characters.`,
    );
  try {
    parseCelSubset(expression);
  } catch (err) {
    if (!(err instanceof CelSubsetError)) throw err;
    // Google parses full CEL; the emulator only its subset (emulator/cel-subset.ts).
    throw invalidRequest(`${where}.availabilityCondition.expression: ${err.message} (emulator CEL subset)`);
  }
  const title = field(condition, 'title');
  const description = field(condition, 'description');
  return {
    availableResource: resource,
    availablePermissions: permissions as string[],
    availabilityCondition: {
      expression,
      ...(typeof title === 'string' ? { title } : {}),
      ...(typeof description === 'string' ? { description } : {}),
    },
  };
}

function field(value: unknown, name: string): unknown {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && Object.hasOwn(value, name)
    ? (value as Record<string, unknown>)[name]
    : undefined;
}
