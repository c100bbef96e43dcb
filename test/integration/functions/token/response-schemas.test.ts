/**
 * The response schemas (what docs/openapi.yaml documents) against the running token function:
 * functions-framework's server, the real google-auth-library client, the emulator as Google.
 */
import { GoogleAuth, type IdTokenClient } from 'google-auth-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  generateAccessTokenResponse,
  generateIdTokenResponse,
  googleErrorBody,
  healthResponse,
} from '../../../../functions/token/http/response-schemas.js';
import { startLocalStack, type LocalStack } from '../../../../scripts/local-stack.js';
import { createCapture } from '../../../support/capture.js';
import { useEmulatorMetadata } from '../../../support/google-env.js';

const GEMINI = 'gemini-caller@tvs-local.iam.gserviceaccount.com';
const CP = 'https://www.googleapis.com/auth/cloud-platform';

let stack: LocalStack;
let restoreEnv: () => void;
let idClient: IdTokenClient;

beforeAll(async () => {
  stack = await startLocalStack({ auditTransport: createCapture().stream, opsLogWrite: () => {} });
  restoreEnv = useEmulatorMetadata(stack.emulator.metadataHost);
  idClient = await new GoogleAuth().getIdTokenClient(stack.tokenUrl);
});

afterAll(async () => {
  restoreEnv?.();
  await stack?.stop();
});

const iamUrl = (method: string, sa = GEMINI) =>
  `${stack.tokenUrl}/v1/projects/-/serviceAccounts/${sa}:${method}`;

async function call(method: string, data: unknown, sa?: string) {
  return idClient.request<unknown>({
    url: iamUrl(method, sa),
    method: 'POST',
    data,
    validateStatus: () => true,
  });
}

describe('success bodies', () => {
  it('generateAccessToken answers a GenerateAccessTokenResponse', async () => {
    const res = await call('generateAccessToken', { scope: [CP], lifetime: '3600s', delegates: [] });
    expect(res.status).toBe(200);
    expect(generateAccessTokenResponse.parse(res.data)).toEqual(res.data);
  });

  it('generateIdToken answers a GenerateIdTokenResponse', async () => {
    const res = await call('generateIdToken', { audience: 'https://example.com', includeEmail: true });
    expect(res.status).toBe(200);
    expect(generateIdTokenResponse.parse(res.data)).toEqual(res.data);
  });

  it('/healthz answers a HealthResponse', async () => {
    const res = await fetch(`${stack.tokenUrl}/healthz`);
    expect(res.status).toBe(200);
    const body: unknown = await res.json();
    expect(healthResponse.parse(body)).toEqual(body);
  });
});

describe('error bodies are GoogleError', () => {
  it.each([
    ['an unknown field', 400, () => call('generateAccessToken', { scope: [CP], extra: 1 })],
    ['a lifetime over the limit', 400, () => call('generateAccessToken', { scope: [CP], lifetime: '3601s' })],
    [
      'no credential',
      401,
      () =>
        fetch(iamUrl('generateAccessToken'), {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ scope: [CP] }),
        }),
    ],
    [
      'a service account the policy does not cover',
      403,
      () => call('generateAccessToken', { scope: [CP] }, 'other@tvs-local.iam.gserviceaccount.com'),
    ],
    ['an unknown path', 404, () => fetch(`${stack.tokenUrl}/v1/nothing`)],
    ['a GET of a POST method', 405, () => fetch(iamUrl('generateIdToken'))],
  ])('%s (%i)', async (_name, status, send) => {
    const res = await send();
    const body: unknown = 'data' in res ? res.data : await res.json();
    expect(res.status).toBe(status);
    expect(googleErrorBody.parse(body)).toEqual(body);
  });
});
