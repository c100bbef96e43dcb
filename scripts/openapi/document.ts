/**
 * docs/openapi.yaml as data: the hand-written parts (paths, descriptions, security schemes, the
 * error responses) around the schemas generated from zod (./schemas.ts). Facts the code knows
 * (accepted algorithms, error statuses, size and lifetime limits) are read from it, not retyped.
 */
import { stringify } from 'yaml';
import { CALLER_TOKEN_ALGORITHMS } from '../../functions/token/auth/types.js';
import { MAX_BODY_BYTES } from '../../functions/token/http/request-context.js';
import { MAX_LIFETIME_SECONDS } from '../../functions/token/http/request-schemas.js';
import { componentSchemas } from './schemas.js';
import { paths } from './paths.js';

const ref = (kind: string, name: string) => ({ $ref: `#/components/${kind}/${name}` });
const googleError = { 'application/json': { schema: ref('schemas', 'GoogleError') } };
const KIB = MAX_BODY_BYTES / 1024;

/** Reusable error responses of the IAM-compatible methods (Google's error model). */
const responses = {
  InvalidArgument: {
    description:
      'INVALID_ARGUMENT — malformed JSON, unknown fields, bad scope or lifetime syntax, delegates. Check the request.',
    content: googleError,
  },
  Unauthenticated: {
    description:
      'UNAUTHENTICATED — no or invalid caller credential (wrong audience, expired, unknown issuer). ' +
      "Check the workload's identity.",
    headers: { 'WWW-Authenticate': { schema: { type: 'string', const: 'Bearer' } } },
    content: googleError,
  },
  PermissionDenied: {
    description:
      'PERMISSION_DENIED — the policy does not allow this caller this SA, scope, audience or lifetime ' +
      '(`NO_RULE_FOR_CALLER`, `SERVICE_ACCOUNT_NOT_ALLOWED`, `SCOPE_NOT_ALLOWED`, `AUDIENCE_NOT_ALLOWED`, ' +
      '`LIFETIME_EXCEEDS_POLICY`); check the policy. `AUDIENCE_IS_THIS_SERVICE` (generateIdToken): the ' +
      "audience is one this service accepts from its callers (its own URL, or an external issuer's " +
      'audience; compared after lower-casing scheme and host, dropping a default port and one trailing ' +
      'slash). Such a token would authenticate its holder here as the service account, so it is never ' +
      'issued, whatever the policy says. `CALLER_DENIED` / `SERVICE_ACCOUNT_DENIED`: the caller or the ' +
      "service account is on the policy's break-glass `deny` list (checked before any rule and before " +
      'the token cache). ' +
      '`ACCESS_BOUNDARY_CLAIM_MISSING` / `ACCESS_BOUNDARY_CLAIM_INVALID` (access tokens of a rule with an ' +
      '`accessBoundary`): a claim the boundary needs is absent, not a string, or not allowed where it goes ' +
      '(docs/policy.md); nothing is minted and the claim value is not echoed.',
    content: googleError,
  },
  NotFound: {
    description:
      'NOT_FOUND — unknown path, or a service account the policy allows by pattern but does not configure. ' +
      'Check the URL and SA.',
    content: googleError,
  },
  MethodNotAllowed: {
    description: 'Wrong method; `Allow` lists the right one.',
    headers: { Allow: { schema: { type: 'string' }, example: 'POST' } },
    content: googleError,
  },
  PayloadTooLarge: { description: `Body over ${KIB} KiB.`, content: googleError },
  UnsupportedMediaType: { description: 'Body is not `application/json`.', content: googleError },
  ResourceExhausted: {
    description:
      'RESOURCE_EXHAUSTED — a quota of the policy (`limits`, per caller and per rule, per instance): ' +
      'ErrorInfo reason `CALLER_RATE_LIMITED` (requests), `CALLER_MINT_RATE_LIMITED` (new tokens; ' +
      'cache hits cost none), `RULE_RATE_LIMITED` / `RULE_MINT_RATE_LIMITED` (all callers of the rule ' +
      'together) or `TOO_MANY_DISTINCT_TOKENS` (different tokens per caller per hour). Nothing was ' +
      'minted. `Retry-After` is the exact wait, in whole seconds rounded up, until the request would ' +
      'be admitted; retry after it. The user routes add `USER_RATE_LIMITED` / `USER_MINT_RATE_LIMITED` ' +
      "(one user's tokens, all callers of a `userTokenRules` rule together).",
    headers: { 'Retry-After': ref('headers', 'RetryAfter') },
    content: googleError,
  },
  NotImplemented: {
    description:
      'User-delegated access is not enabled in this deployment (`USER_TOKENS_NOT_ENABLED`: ' +
      '`TVS_USER_CONSENT_CLIENT_ID` is unset). Not retryable.',
    content: googleError,
  },
  Internal: {
    description:
      'INTERNAL — misconfiguration (e.g. a key Google refuses; `DOWNSCOPE_REJECTED`: Google STS refused a rule’s access boundary). Retried by clients a bounded number of times.',
    content: googleError,
  },
  Unavailable: {
    description:
      'UNAVAILABLE — Google unreachable after bounded retries; or `POLICY_STALE`: the policy could not ' +
      'be re-read for longer than `TVS_POLICY_MAX_STALENESS_SECONDS`, so the service refuses to judge ' +
      'requests by it until a re-read succeeds (operators: see the `policy_reload_failed` log entries). ' +
      'Retry with capped backoff.',
    headers: { 'Retry-After': ref('headers', 'RetryAfter') },
    content: googleError,
  },
};

const securitySchemes = {
  workloadIdToken: {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description:
      "An OIDC ID token with this service's URL as `aud`: from the metadata server " +
      '(`.../service-accounts/default/identity?audience=<service URL>&format=full`, signed RS256 by ' +
      'Google), or from a configured external issuer (GitHub Actions, Kubernetes, ...) signed with one ' +
      'of the algorithms configured for that issuer (`issuers[].algorithms`, default RS256): ' +
      `${CALLER_TOKEN_ALGORITHMS.join(', ')}. Never \`HS*\` or \`none\`.`,
  },
  googleAccessToken: {
    type: 'http',
    scheme: 'bearer',
    description:
      "A Google service-account access token with the `userinfo.email` scope (what google-auth-library's " +
      "`Impersonated` sends); validated at Google's tokeninfo.",
  },
  oauthClientBasic: {
    type: 'http',
    scheme: 'basic',
    description: 'OAuth client id and secret for `client_credentials` (or send them in the form body).',
  },
};

/** The OpenAPI 3.1 document of the token function. */
export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Token vending service',
      version: '0.1.0',
      summary: 'Short-lived Google access and ID tokens for workloads, minted by policy.',
      description:
        "The `token` Cloud Function. The two `projects/-/serviceAccounts/...` methods are wire-compatible with Google's\n" +
        'IAM Service Account Credentials API (`iamcredentials.googleapis.com/v1`), so stock clients work by changing\n' +
        'only their endpoint. Callers authenticate with `Authorization: Bearer` and an OIDC ID token whose audience\n' +
        "is this service's URL (a Google-signed token from the metadata server, or a token of a configured external\n" +
        'issuer), or a Google service-account access token carrying the `userinfo.email` scope. `POST /v1/token` is\n' +
        'an OAuth 2.0 token endpoint for callers without a Google identity.\n\n' +
        "Behind Cloud Run's invoker check a caller may send `X-Serverless-Authorization: Bearer <Google ID token>` for\n" +
        'Cloud Run and its own credential in `Authorization`. That header is never the caller identity: when present it\n' +
        'must come once as one Bearer token, `Authorization` must carry a different token, or the answer is 401 (reasons\n' +
        '`SERVERLESS_AUTHORIZATION_*`, `CALLER_CREDENTIAL_REPEATED`; see docs/workloads.md).\n\n' +
        "Errors of the IAM-style methods follow Google's error model (AIP-193); `/v1/token` answers RFC 6749 errors.\n" +
        'Messages are generic; `details[0].reason` is stable and safe to branch on. No response ever contains a key\n' +
        'or a secret; tokens appear only in successful responses.\n\n' +
        'Generated by `npm run openapi` (scripts/openapi.ts) from the zod schemas in functions/token/http/.\n',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [
      {
        url: 'https://{region}-{project}.cloudfunctions.net/{function}',
        description:
          'Deployed function: the `token_url` output of terraform/examples/complete (the Cloud Functions gen2 URL, ' +
          'also the default audience); its Cloud Run `run.app` URL serves the same API.',
        variables: {
          region: { default: 'europe-west1' },
          project: { default: 'my-project' },
          function: { default: 'tvs-token', description: 'The `function_name` of the Terraform module.' },
        },
      },
      { url: 'http://localhost:8080', description: 'Local stack (`npm start`)' },
    ],
    tags: [{ name: 'IAM Credentials compatible' }, { name: 'OAuth 2.0' }, { name: 'Operations' }],
    paths: paths({ bodyKib: KIB, maxLifetimeSeconds: MAX_LIFETIME_SECONDS }),
    components: {
      securitySchemes,
      parameters: {
        UserSub: {
          name: 'sub',
          in: 'path',
          required: true,
          description: "The user's Google account id (the `sub` of their ID token): digits only.",
          schema: { type: 'string', pattern: '^[0-9]{1,255}$' },
          example: '110248495921238986420',
        },
        ServiceAccount: {
          name: 'serviceAccount',
          in: 'path',
          required: true,
          description: "The target service account's email (the project segment is always `-`).",
          schema: { type: 'string', format: 'email', maxLength: 354 },
          example: 'gemini-caller@my-project.iam.gserviceaccount.com',
        },
      },
      headers: {
        RetryAfter: {
          description: 'Seconds to wait before retrying, when known.',
          schema: { type: 'integer', minimum: 0 },
        },
      },
      schemas: componentSchemas(),
      responses,
    },
  };
}

/** docs/openapi.yaml as written by `npm run openapi`. */
export function renderOpenApi(): string {
  return (
    '# Generated by `npm run openapi` (scripts/openapi.ts) from the zod schemas; do not edit by hand.\n' +
    stringify(openApiDocument(), { lineWidth: 0, aliasDuplicateObjects: false })
  );
}
