/**
 * docs/openapi.yaml against the running token function: it parses, it is OpenAPI 3.1, every
 * `$ref` resolves, every documented path exists with the documented method, and the documented
 * example requests succeed as written.
 */
import { readFileSync } from 'node:fs';
import { GoogleAuth } from 'google-auth-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startLocalStack, type LocalStack } from '../../../scripts/local-stack.js';
import { createCapture } from '../../support/capture.js';
import { useEmulatorMetadata } from '../../support/google-env.js';

interface Operation { requestBody?: { content: Record<string, { example?: unknown }> } }
interface OpenApiDoc { openapi: string; paths: Record<string, Record<string, Operation>>; components: Record<string, unknown> }

const doc = parse(readFileSync(new URL('../../../docs/openapi.yaml', import.meta.url), 'utf8')) as OpenApiDoc;
const GEMINI = 'gemini-caller@tvs-local.iam.gserviceaccount.com';

let stack: LocalStack;
let restoreEnv: () => void;

beforeAll(async () => {
  stack = await startLocalStack({ auditTransport: createCapture().stream, opsLogWrite: () => {} });
  restoreEnv = useEmulatorMetadata(stack.emulator.metadataHost);
});

afterAll(async () => {
  restoreEnv?.();
  await stack?.stop();
});

describe('docs/openapi.yaml', () => {
  it('is OpenAPI 3.1 with the four paths of the token API', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/healthz',
      '/v1/projects/-/serviceAccounts/{serviceAccount}:generateAccessToken',
      '/v1/projects/-/serviceAccounts/{serviceAccount}:generateIdToken',
      '/v1/token',
    ]);
    expect(Object.keys(doc.components.securitySchemes as object).sort()).toEqual(['googleAccessToken', 'oauthClientBasic', 'workloadIdToken']);
  });

  it('resolves every $ref', () => {
    const refs: string[] = [];
    const walk = (node: unknown): void => {
      if (typeof node !== 'object' || node === null) return;
      for (const [key, value] of Object.entries(node)) {
        if (key === '$ref' && typeof value === 'string') refs.push(value);
        else walk(value);
      }
    };
    walk(doc);
    expect(refs.length).toBeGreaterThan(20);
    const unresolved = refs.filter((ref) => ref.slice(2).split('/').reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], doc) === undefined);
    expect(unresolved).toEqual([]);
  });

  it('documents only routes the function serves, with their methods', async () => {
    for (const [path, operations] of Object.entries(doc.paths)) {
      const url = `${stack.tokenUrl}${path.replace('{serviceAccount}', GEMINI)}`;
      for (const method of Object.keys(operations)) {
        const res = await fetch(url, { method: method.toUpperCase(), headers: { 'content-type': 'application/json' }, ...(method === 'get' ? {} : { body: '{}' }) });
        await res.arrayBuffer();
        expect({ path, method, status: res.status }).not.toMatchObject({ status: 404 });
        expect({ path, method, status: res.status }).not.toMatchObject({ status: 405 });
      }
    }
  });

  it('the documented generateAccessToken and generateIdToken examples succeed as written', async () => {
    const idClient = await new GoogleAuth().getIdTokenClient(stack.tokenUrl);
    for (const method of ['generateAccessToken', 'generateIdToken'] as const) {
      const operation = doc.paths[`/v1/projects/-/serviceAccounts/{serviceAccount}:${method}`].post;
      const example = operation.requestBody!.content['application/json'].example as Record<string, unknown>;
      const res = await idClient.request<Record<string, string>>({ url: `${stack.tokenUrl}/v1/projects/-/serviceAccounts/${GEMINI}:${method}`, method: 'POST', data: example });
      expect(res.status).toBe(200);
      expect(Object.keys(res.data).sort()).toEqual(method === 'generateAccessToken' ? ['accessToken', 'expireTime'] : ['token']);
    }
  });
});
