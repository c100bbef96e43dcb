/**
 * `npm run policy-schema`: writes docs/policy.schema.json, the JSON Schema of the policy document
 * generated from its zod schema (functions/token/policy/policy-schema.ts), for editors to complete
 * and validate policies (`"$schema"` in a JSON policy, `# yaml-language-server: $schema=` in YAML).
 * A test compares the committed file with what this generates. The function's compiler stays the
 * judge: the schema describes shapes; some checks (rule-name uniqueness, glob syntax, the
 * service's own audience) only `npm run policy -- check` makes.
 */
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { policySchema, policySchemaParts as parts } from '../functions/token/policy/policy-schema.js';

export const POLICY_SCHEMA_FILE = new URL('../docs/policy.schema.json', import.meta.url);
export const POLICY_SCHEMA_ID = 'https://tokenvending.dev/schemas/policy-v1.json';

type JsonSchema = Record<string, unknown>;

function inputSchema(schema: z.core.$ZodType): JsonSchema {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io: 'input', override }) as JsonSchema;
  return rest;
}

/** Describes what zod's generator cannot see through (transforms and a preprocess default). */
function override(ctx: { zodSchema: unknown; jsonSchema: JsonSchema }): void {
  const replace = (schema: JsonSchema) => {
    for (const key of Object.keys(ctx.jsonSchema)) delete ctx.jsonSchema[key];
    Object.assign(ctx.jsonSchema, schema);
  };
  if (ctx.zodSchema === parts.serviceAccount) {
    replace({
      description: 'How tokens for this service account are minted; `backend` defaults to `keyless`.',
      oneOf: [
        {
          type: 'object',
          properties: {
            backend: { const: 'key' },
            keySecret: {
              type: 'string',
              pattern: '^projects/[^/]+/secrets/[^/]+/versions/[^/]+$',
              description: 'The key secret version, e.g. projects/P/secrets/S/versions/current.',
            },
          },
          required: ['backend', 'keySecret'],
          additionalProperties: false,
        },
        { type: 'object', properties: { backend: { const: 'keyless' } }, additionalProperties: false },
      ],
    });
  } else if (ctx.zodSchema === parts.claimValue) {
    const pattern = inputSchema(parts.pattern);
    replace({
      description:
        'A pattern (the claim is that string, or a list holding one), a boolean, or a list of patterns (any of them).',
      anyOf: [
        pattern,
        { type: 'boolean' },
        { type: 'array', items: pattern, minItems: 1, maxItems: parts.maxClaimAlternatives },
      ],
    });
  } else if (ctx.zodSchema === parts.caller) {
    replace({ oneOf: [inputSchema(parts.clientCaller), inputSchema(parts.oidcCaller)] });
  } else if (ctx.zodSchema === parts.denyCaller) {
    replace({ oneOf: [inputSchema(parts.clientCaller), inputSchema(parts.denyOidcCaller)] });
  } else if (ctx.zodSchema === parts.scope) {
    ctx.jsonSchema.pattern = '^https://\\S+$';
    ctx.jsonSchema.description = 'An https scope URL, or a glob of them.';
  } else if (ctx.zodSchema === parts.oidcCaller) {
    // Exactly one of subject and email (a refine zod cannot express).
    ctx.jsonSchema.oneOf = [{ required: ['subject'] }, { required: ['email'] }];
  }
}

/** The policy's JSON Schema, as committed in docs/policy.schema.json. */
export function policyJsonSchema(): JsonSchema {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: POLICY_SCHEMA_ID,
    title: 'Token vending service policy (version 1)',
    ...inputSchema(policySchema),
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(POLICY_SCHEMA_FILE, `${JSON.stringify(policyJsonSchema(), null, 2)}\n`);
  process.stdout.write(`wrote ${POLICY_SCHEMA_FILE.pathname}\n`);
}
