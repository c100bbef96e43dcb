/** The `paths` of docs/openapi.yaml: operations, examples and per-status descriptions (hand-written). */

const ref = (kind: string, name: string) => ({ $ref: `#/components/${kind}/${name}` });
const json = (schema: string) => ({ 'application/json': { schema: ref('schemas', schema) } });
/** A required JSON request body of component schema `schema`, with an example. */
const jsonRequest = (schema: string, example: unknown) => ({
  required: true,
  content: { 'application/json': { schema: ref('schemas', schema), example } },
});
const iamSecurity = [{ workloadIdToken: [] }, { googleAccessToken: [] }];

/** The error responses every IAM-compatible method can give. */
const IAM_ERRORS = {
  '400': ref('responses', 'InvalidArgument'),
  '401': ref('responses', 'Unauthenticated'),
  '403': ref('responses', 'PermissionDenied'),
  '404': ref('responses', 'NotFound'),
  '405': ref('responses', 'MethodNotAllowed'),
  '413': ref('responses', 'PayloadTooLarge'),
  '415': ref('responses', 'UnsupportedMediaType'),
  '429': ref('responses', 'ResourceExhausted'),
  '500': ref('responses', 'Internal'),
  '503': ref('responses', 'Unavailable'),
};

const oauthError = (description: string, extra: Record<string, unknown> = {}) => ({
  description,
  ...extra,
  content: json('OAuthError'),
});
const retryAfter = { 'Retry-After': ref('headers', 'RetryAfter') };

export function paths(limits: { bodyKib: number; maxLifetimeSeconds: number }): Record<string, unknown> {
  return {
    '/v1/projects/-/serviceAccounts/{serviceAccount}:generateAccessToken': {
      post: {
        tags: ['IAM Credentials compatible'],
        operationId: 'generateAccessToken',
        summary: 'An OAuth 2.0 access token for a service account',
        description:
          'Granted only when one policy rule matches the caller and covers the service account, every\n' +
          'requested scope and the lifetime. Tokens minted from a service-account key always live one\n' +
          'hour; `expireTime` reports the real expiry.\n',
        security: iamSecurity,
        parameters: [ref('parameters', 'ServiceAccount')],
        requestBody: jsonRequest('GenerateAccessTokenRequest', {
          scope: ['https://www.googleapis.com/auth/cloud-platform'],
          lifetime: `${limits.maxLifetimeSeconds}s`,
          delegates: [],
        }),
        responses: {
          '200': {
            description: 'The token.',
            content: {
              'application/json': {
                schema: ref('schemas', 'GenerateAccessTokenResponse'),
                example: { accessToken: 'ya29.c.b0Aaek...', expireTime: '2026-11-26T20:00:00Z' },
              },
            },
          },
          ...IAM_ERRORS,
        },
      },
    },
    '/v1/projects/-/serviceAccounts/{serviceAccount}:generateIdToken': {
      post: {
        tags: ['IAM Credentials compatible'],
        operationId: 'generateIdToken',
        summary: 'A Google-signed OpenID Connect ID token for a service account',
        security: iamSecurity,
        parameters: [ref('parameters', 'ServiceAccount')],
        requestBody: jsonRequest('GenerateIdTokenRequest', {
          audience: 'https://example.com',
          includeEmail: true,
        }),
        responses: {
          '200': {
            description: 'The ID token (a JWT signed by Google, `iss` https://accounts.google.com).',
            content: json('GenerateIdTokenResponse'),
          },
          ...IAM_ERRORS,
        },
      },
    },
    '/v1/users/{sub}:generateAccessToken': {
      post: {
        tags: ['User-delegated access'],
        operationId: 'generateUserAccessToken',
        summary: 'An OAuth 2.0 access token of a user who consented (issue 19)',
        description:
          'Granted when a `userTokenRules` rule names the caller, the user (by `sub:` or by the email\n' +
          'stored with their grant) and every requested scope, and the user consented to every one of\n' +
          'them. Refusals: 403 `USER_TOKEN_NOT_ALLOWED` (the same whether or not the user has a grant),\n' +
          '403 `SCOPE_NOT_CONSENTED`, 404 `USER_GRANT_NOT_FOUND` (to a caller named by `sub:` only),\n' +
          '400 `FAILED_PRECONDITION` `USER_GRANT_REVOKED` with ErrorInfo metadata `revokedReason`\n' +
          '(`USER`, `ADMIN` or `GOOGLE_INVALID_GRANT`), 429 per caller or per user, 501\n' +
          '`USER_TOKENS_NOT_ENABLED` when the deployment has no OAuth client configured.\n',
        security: iamSecurity,
        parameters: [ref('parameters', 'UserSub')],
        requestBody: jsonRequest('GenerateUserAccessTokenRequest', {
          scope: ['https://www.googleapis.com/auth/drive.readonly'],
        }),
        responses: {
          '200': {
            description: "The user's token (its lifetime is Google's).",
            content: json('GenerateAccessTokenResponse'),
          },
          ...IAM_ERRORS,
          '501': ref('responses', 'NotImplemented'),
        },
      },
    },
    '/v1/users/{sub}:revokeGrant': {
      post: {
        tags: ['User-delegated access'],
        operationId: 'revokeUserGrant',
        summary: "Revokes a user's grant here and at Google",
        description:
          "For callers named by the policy's `userGrantAdmins`. Tombstones the grant (the refresh\n" +
          "token is erased), drops the instance's cached tokens of the user and revokes the refresh\n" +
          'token at Google. Already revoked: 200 with `revokedAtGoogle: false`. Other callers get 403\n' +
          '`USER_GRANT_REVOKE_NOT_ALLOWED` whether or not the user has a grant, and so does an entry\n' +
          'recording a `reason` its `reasons` do not list (`USER` is for the consent function).\n',
        security: iamSecurity,
        parameters: [ref('parameters', 'UserSub')],
        requestBody: jsonRequest('RevokeGrantRequest', { reason: 'ADMIN' }),
        responses: {
          '200': { description: 'Revoked.', content: json('RevokeGrantResponse') },
          ...IAM_ERRORS,
          '501': ref('responses', 'NotImplemented'),
        },
      },
    },
    '/v1/token': {
      post: {
        tags: ['OAuth 2.0'],
        operationId: 'oauthToken',
        summary: 'OAuth 2.0 token endpoint (client credentials, token exchange)',
        description:
          '`grant_type=client_credentials` (RFC 6749 §4.4) with HTTP Basic (`client_secret_basic`) or\n' +
          '`client_id`/`client_secret` in the body (`client_secret_post`), never both; or\n' +
          '`grant_type=urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693) with an OIDC JWT\n' +
          'of a configured issuer as `subject_token` and no client authentication. The target is\n' +
          "named by the `service_account` parameter, or (token exchange in Google STS's request shape, as\n" +
          'the `external_account` credential files of every Google client library send it) by\n' +
          '`audience=//tokenvending/serviceAccounts/EMAIL`. A parameter sent twice is an error.\n\n' +
          'Client secrets are 32-64 printable ASCII characters (`npm run -s hash-client-secret --\n' +
          '--generate` makes one); the policy stores only their scrypt hash. Failed client\n' +
          'authentications are counted per client id (known or not): after\n' +
          '`TVS_OAUTH_MAX_FAILED_ATTEMPTS` (10) failures within `TVS_OAUTH_FAILURE_WINDOW_SECONDS`\n' +
          '(60 s), that id is answered `429 invalid_client` with `Retry-After` for the window, even\n' +
          'with the right secret; likewise per source address (`TVS_OAUTH_MAX_FAILED_ATTEMPTS_PER_SOURCE`,\n' +
          "30; the client IP Google's front end appended to `X-Forwarded-For`, IPv6 by /64). Unknown and\n" +
          "known client ids get identical answers. The policy's quotas (`limits`) apply as on the\n" +
          'IAM-compatible routes; a refusal is `429 temporarily_unavailable` with `Retry-After`.\n',
        security: [{ oauthClientBasic: [] }, {}],
        requestBody: {
          required: true,
          content: {
            'application/x-www-form-urlencoded': {
              schema: {
                oneOf: [ref('schemas', 'ClientCredentialsRequest'), ref('schemas', 'TokenExchangeRequest')],
                discriminator: {
                  propertyName: 'grant_type',
                  mapping: {
                    client_credentials: '#/components/schemas/ClientCredentialsRequest',
                    'urn:ietf:params:oauth:grant-type:token-exchange':
                      '#/components/schemas/TokenExchangeRequest',
                  },
                },
              },
              examples: {
                clientCredentials: {
                  summary: 'client_secret_post',
                  value: {
                    grant_type: 'client_credentials',
                    client_id: 'nightly-batch',
                    client_secret: 'REPLACE-WITH-THE-CLIENT-SECRET-OF-32-64-CHARS',
                    service_account: 'gemini-caller@my-project.iam.gserviceaccount.com',
                    scope: 'https://www.googleapis.com/auth/cloud-platform',
                  },
                },
                stsTokenExchange: {
                  summary: 'Google STS shape, as google-auth-library sends it from an external_account file',
                  value: {
                    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
                    audience: '//tokenvending/serviceAccounts/deployer@my-project.iam.gserviceaccount.com',
                    scope: 'https://www.googleapis.com/auth/cloud-platform',
                    requested_token_type: 'urn:ietf:params:oauth:token-type:access_token',
                    subject_token: '<OIDC JWT>',
                    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
                  },
                },
                tokenExchange: {
                  summary: 'RFC 8693 with a GitHub Actions OIDC token',
                  value: {
                    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
                    subject_token: '<OIDC JWT>',
                    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
                    service_account: 'deployer@my-project.iam.gserviceaccount.com',
                    scope: 'https://www.googleapis.com/auth/cloud-platform',
                  },
                },
              },
            },
          },
        },
        responses: {
          '200': {
            description: 'The token (RFC 6749 §5.1).',
            headers: { 'Cache-Control': { schema: { type: 'string', const: 'no-store' } } },
            content: json('OAuthTokenResponse'),
          },
          '400': oauthError(
            "invalid_request, invalid_grant (also when the subject token's claims cannot fill the rule's `accessBoundary`), invalid_scope, unsupported_grant_type, unauthorized_client or invalid_target.",
          ),
          '401': oauthError('invalid_client.', {
            headers: {
              'WWW-Authenticate': {
                schema: { type: 'string' },
                example: 'Basic realm="token-vending", charset="UTF-8"',
              },
            },
          }),
          '413': oauthError(`Body over ${limits.bodyKib} KiB (invalid_request).`),
          '415': oauthError('Not form-encoded (invalid_request).'),
          '429': {
            description:
              'invalid_client: too many failed client authentications for this client id or from this\n' +
              'source address (RFC 6585 429; the RFC 6749 code stays `invalid_client` because the\n' +
              'authentication is refused). The secret is not checked while throttled. Same answer for\n' +
              'unknown ids.\n\n' +
              'temporarily_unavailable: a quota of the policy (`limits`: requests or new tokens per\n' +
              'caller or per rule, distinct tokens per caller per hour; RFC 6749 has no code for a\n' +
              'quota), e.g. `{"error": "temporarily_unavailable", "error_description": "Too many token\n' +
              'requests from this caller; retry after the time in Retry-After."}`. Nothing was minted;\n' +
              '`Retry-After` is the exact wait in whole seconds.\n',
            headers: retryAfter,
            content: {
              'application/json': {
                schema: ref('schemas', 'OAuthError'),
                example: {
                  error: 'invalid_client',
                  error_description:
                    'Too many failed client authentication attempts; retry after the time in Retry-After.',
                },
              },
            },
          },
          '500': oauthError('server_error.'),
          '503': oauthError(
            'temporarily_unavailable: Google unreachable after bounded retries, or too many client\n' +
              'secret verifications in progress on this instance (load shed; `Retry-After: 1`; the\n' +
              'attempt is not counted as a failure).\n',
            { headers: retryAfter },
          ),
        },
      },
    },
    '/v1/policy:notify': {
      post: {
        tags: ['Operations'],
        operationId: 'policyNotify',
        summary: "A Pub/Sub push of the policy secret's change notices",
        description:
          "Called by the policy topic's push subscription only (an OIDC token of `TVS_POLICY_NOTIFIER`\n" +
          'with this service as audience). A new version, an alias moved, or a version enabled, disabled\n' +
          'or destroyed on the policy secret makes this instance re-read the policy before answering;\n' +
          'any other message is acknowledged and ignored. Nothing in the message but its event type and\n' +
          'secret id is used: the policy is always read from the configured secret version.\n',
        security: [{ workloadIdToken: [] }],
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { type: 'object', required: ['message'] } } },
        },
        responses: {
          '204': {
            description:
              'Handled: re-read (audited `POLICY_RELOADED`), ignored (`NOTIFICATION_IGNORED`), or a new\n' +
              'policy that does not compile (`POLICY_REJECTED`; the last good one stays, redelivery would not help).\n',
          },
          '400': ref('responses', 'InvalidArgument'),
          '401': ref('responses', 'Unauthenticated'),
          '403': {
            description:
              'PERMISSION_DENIED `POLICY_NOTIFIER_NOT_ALLOWED`: not the configured notifier (or none is configured).',
            content: json('GoogleError'),
          },
          '405': ref('responses', 'MethodNotAllowed'),
          '415': ref('responses', 'UnsupportedMediaType'),
          '503': {
            description: '`POLICY_RELOAD_FAILED`: the secret could not be read; Pub/Sub delivers again.',
            content: json('GoogleError'),
          },
        },
      },
    },
    '/healthz': {
      get: {
        tags: ['Operations'],
        operationId: 'healthz',
        summary: 'Liveness',
        security: [],
        responses: { '200': { description: 'The function is serving.', content: json('HealthResponse') } },
      },
    },
  };
}
