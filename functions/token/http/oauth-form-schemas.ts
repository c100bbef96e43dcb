/**
 * The form bodies of `POST /v1/token` as zod schemas, for docs/openapi.yaml (scripts/openapi.ts)
 * and tests. `oauth-token.ts` reads these parameters itself (a repeated parameter, Basic together
 * with body credentials, and a parameter of the other grant are refused there), so these schemas
 * describe the accepted shape; they are not the parser.
 */
import * as z from '../../../shared/zod.js';
import { CLIENT_SECRET_SYNTAX } from '../oauth/client-secret-hash.js';
import { STS_AUDIENCE_PREFIX, TOKEN_EXCHANGE_GRANT } from '../../../shared/sts.js';

const serviceAccount = z
  .string()
  .check(z.meta({ format: 'email', description: 'The target service account.' }));
const scope = z.string().check(z.meta({ description: 'Space-separated scopes (1-64).' }));

export const clientCredentialsForm = z.object({
  grant_type: z.literal('client_credentials'),
  client_id: z.optional(z.string()).check(z.meta({ description: 'With client_secret_post only.' })),
  client_secret: z
    .optional(z.string().check(z.regex(CLIENT_SECRET_SYNTAX)))
    .check(z.meta({ description: 'With client_secret_post only: 32-64 printable ASCII characters.' })),
  service_account: serviceAccount,
  scope,
});

export const tokenExchangeForm = z.object({
  grant_type: z.literal(TOKEN_EXCHANGE_GRANT),
  subject_token: z.string().check(z.meta({ description: 'An OIDC JWT of a configured issuer.' })),
  subject_token_type: z.enum([
    'urn:ietf:params:oauth:token-type:jwt',
    'urn:ietf:params:oauth:token-type:id_token',
  ]),
  requested_token_type: z.optional(z.literal('urn:ietf:params:oauth:token-type:access_token')),
  service_account: z
    .optional(serviceAccount)
    .check(z.meta({ format: 'email', description: 'The target service account; or name it by `audience`.' })),
  audience: z.optional(z.string().check(z.startsWith(STS_AUDIENCE_PREFIX))).check(
    z.meta({
      description:
        'Google STS form (what `external_account` credential files send): the target service account as ' +
        `\`${STS_AUDIENCE_PREFIX}EMAIL\`. Exactly one of \`service_account\` and \`audience\`.`,
    }),
  ),
  options: z.optional(z.string()).check(
    z.meta({
      description:
        'Google STS `options`: URL-encoded JSON object. Only `userProject` (sent by the libraries for ' +
        'workforce pools) is accepted, and ignored; any other key is refused.',
    }),
  ),
  scope,
});
