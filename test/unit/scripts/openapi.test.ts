/**
 * docs/openapi.yaml is generated (`npm run openapi`, scripts/openapi.ts): the committed file must
 * be what the generator produces from today's code, and its examples must satisfy the zod schemas
 * it was generated from. test/integration/client/docs.test.ts checks it against the live service.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { CALLER_TOKEN_ALGORITHMS } from '../../../functions/token/auth/types.js';
import {
  clientCredentialsForm,
  tokenExchangeForm,
} from '../../../functions/token/http/oauth-form-schemas.js';
import {
  generateAccessTokenBody,
  generateIdTokenBody,
} from '../../../functions/token/http/request-schemas.js';
import {
  generateAccessTokenResponse,
  googleErrorBody,
  oauthErrorBody,
} from '../../../functions/token/http/response-schemas.js';
import { OPENAPI_FILE } from '../../../scripts/openapi.js';
import { openApiDocument, renderOpenApi } from '../../../scripts/openapi/document.js';

type Node = Record<string, any>;

const committed = readFileSync(OPENAPI_FILE, 'utf8');
const doc = openApiDocument() as Node;
const IAM = '/v1/projects/-/serviceAccounts/{serviceAccount}';

describe('docs/openapi.yaml', () => {
  it('is what `npm run openapi` generates from the code', () => {
    expect(
      committed === renderOpenApi(),
      'docs/openapi.yaml is out of date: run `npm run openapi` and commit the result',
    ).toBe(true);
  });

  it('parses back to the generated document', () => {
    expect(parse(committed)).toEqual(doc);
  });

  it('names every caller-token algorithm the code accepts', () => {
    const description = doc.components.securitySchemes.workloadIdToken.description as string;
    for (const alg of CALLER_TOKEN_ALGORITHMS) expect(description).toContain(alg);
    expect(CALLER_TOKEN_ALGORITHMS).toHaveLength(7);
  });

  it.each<[string, z.core.$ZodType, unknown]>([
    [
      'generateAccessToken request',
      generateAccessTokenBody,
      doc.paths[`${IAM}:generateAccessToken`].post.requestBody.content['application/json'].example,
    ],
    [
      'generateIdToken request',
      generateIdTokenBody,
      doc.paths[`${IAM}:generateIdToken`].post.requestBody.content['application/json'].example,
    ],
    [
      'generateAccessToken response',
      generateAccessTokenResponse,
      doc.paths[`${IAM}:generateAccessToken`].post.responses['200'].content['application/json'].example,
    ],
    [
      'client_credentials form',
      clientCredentialsForm,
      doc.paths['/v1/token'].post.requestBody.content['application/x-www-form-urlencoded'].examples
        .clientCredentials.value,
    ],
    [
      'token exchange form',
      tokenExchangeForm,
      doc.paths['/v1/token'].post.requestBody.content['application/x-www-form-urlencoded'].examples
        .tokenExchange.value,
    ],
    [
      'throttled OAuth error',
      oauthErrorBody,
      doc.paths['/v1/token'].post.responses['429'].content['application/json'].example,
    ],
    ['GoogleError', googleErrorBody, doc.components.schemas.GoogleError.example],
  ])('its %s example satisfies the schema', (_name, schema, example) => {
    expect(example).toBeDefined();
    expect(z.safeParse(schema, example).error).toBeUndefined();
  });
});
