/**
 * `components.schemas` of docs/openapi.yaml, generated with zod's JSON Schema output (2020-12,
 * what OpenAPI 3.1 uses) from the request schemas the token function parses with and the response
 * schemas next to them. Descriptions of request fields live here, as documentation: the request
 * schemas stay free of it.
 */
import { z } from 'zod';
import { ERROR_DOMAIN } from '../../shared/google-error.js';
import {
  generateAccessTokenBody,
  generateIdTokenBody,
  MAX_LIFETIME_SECONDS,
} from '../../functions/token/http/request-schemas.js';
import { clientCredentialsForm, tokenExchangeForm } from '../../functions/token/http/oauth-form-schemas.js';
import {
  errorInfo,
  generateAccessTokenResponse,
  generateIdTokenResponse,
  googleErrorBody,
  healthResponse,
  oauthErrorBody,
  oauthTokenResponse,
  revokeGrantResponse,
} from '../../functions/token/http/response-schemas.js';
import { revokeGrantBody, userAccessTokenBody } from '../../functions/token/http/user-request-schemas.js';

type JsonSchema = Record<string, unknown>;

/** Each documented schema under its component name. */
const COMPONENTS: Record<string, z.core.$ZodType> = {
  GenerateAccessTokenRequest: generateAccessTokenBody,
  GenerateAccessTokenResponse: generateAccessTokenResponse,
  GenerateIdTokenRequest: generateIdTokenBody,
  GenerateIdTokenResponse: generateIdTokenResponse,
  ClientCredentialsRequest: clientCredentialsForm,
  TokenExchangeRequest: tokenExchangeForm,
  OAuthTokenResponse: oauthTokenResponse,
  OAuthError: oauthErrorBody,
  GoogleError: googleErrorBody,
  ErrorInfo: errorInfo,
  HealthResponse: healthResponse,
  GenerateUserAccessTokenRequest: userAccessTokenBody,
  RevokeGrantRequest: revokeGrantBody,
  RevokeGrantResponse: revokeGrantResponse,
};

/** Documentation added to a schema's JSON Schema (for schemas that carry none themselves). */
const DOCS = new Map<unknown, JsonSchema>([
  [
    generateAccessTokenBody.shape.scope,
    { description: "OAuth scopes; each must be allowed by the matching policy rule's scopes." },
  ],
  [
    generateAccessTokenBody.shape.lifetime,
    {
      description: `Requested lifetime, 1s to ${MAX_LIFETIME_SECONDS}s (and within the rule's maxLifetimeSeconds).`,
      default: `${MAX_LIFETIME_SECONDS}s`,
    },
  ],
  [
    generateAccessTokenBody.shape.delegates,
    { description: 'Delegation chains are not supported; send `[]` or omit.' },
  ],
  [
    generateIdTokenBody.shape.audience,
    { description: "The `aud` of the ID token; must be allowed by the rule's idTokenAudiences." },
  ],
  [
    generateIdTokenBody.shape.useEmailAzp,
    { description: 'Accepted for compatibility with google-auth-library; has no effect.' },
  ],
  [
    generateIdTokenBody.shape.organizationNumberIncluded,
    { description: 'Accepted for compatibility; has no effect.' },
  ],
  [
    googleErrorBody,
    {
      description: "Google's error model (AIP-193).",
      example: {
        error: {
          code: 403,
          message: 'The caller is not allowed to obtain tokens from this service.',
          status: 'PERMISSION_DENIED',
          details: [
            {
              '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
              reason: 'NO_RULE_FOR_CALLER',
              domain: ERROR_DOMAIN,
              metadata: {},
            },
          ],
        },
      },
    },
  ],
]);

/** Removes what only makes the document noisy: zod's safe-integer bounds and its RFC 3339 regex. */
function tidy(schema: JsonSchema): void {
  if (schema.type === 'integer') {
    if (schema.minimum === Number.MIN_SAFE_INTEGER) delete schema.minimum;
    if (schema.maximum === Number.MAX_SAFE_INTEGER) delete schema.maximum;
  }
  if (schema.format === 'date-time') delete schema.pattern;
}

/** The JSON Schemas of {@link COMPONENTS}, referring to each other by `#/components/schemas/<name>`. */
export function componentSchemas(): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(COMPONENTS)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, {
    io: 'input',
    uri: (id) => `#/components/schemas/${id}`,
    override: (ctx) => {
      tidy(ctx.jsonSchema);
      const docs = DOCS.get(ctx.zodSchema);
      if (docs) Object.assign(ctx.jsonSchema, docs);
    },
  });
  return Object.fromEntries(
    Object.entries(schemas).map(([id, { $schema: _schema, $id: _id, ...schema }]) => [
      id,
      schema as JsonSchema,
    ]),
  );
}
