/**
 * The docs against the running token function. docs/openapi.yaml: it parses, it is OpenAPI 3.1,
 * every `$ref` resolves, every documented path exists with the documented method, and the
 * documented example requests succeed as written. docs/workloads.md: the Node `Impersonated`
 * snippet works, the plain-HTTP `generateIdToken` curl runs as written, and `delegates: null`
 * (what Python's impersonated credentials send for `delegates=None`) is refused. docs/adc.md: the
 * generator command runs as written and prints the JSON the page shows.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { GoogleAuth, Impersonated, type IdTokenClient } from 'google-auth-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startLocalStack, type LocalStack } from '../../../scripts/local-stack.js';
import { createCapture } from '../../support/capture.js';
import { useEmulatorMetadata } from '../../support/google-env.js';

interface Operation {
  requestBody?: { content: Record<string, { example?: unknown }> };
}
interface OpenApiDoc {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: Record<string, unknown>;
}

const run = promisify(execFile);
const ROOT = new URL('../../../', import.meta.url);
/** The fenced blocks of language `lang` in a docs page. */
function blocks(page: string, lang: string): string[] {
  const text = readFileSync(new URL(`docs/${page}`, ROOT), 'utf8');
  return [...text.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]);
}

const doc = parse(readFileSync(new URL('../../../docs/openapi.yaml', import.meta.url), 'utf8')) as OpenApiDoc;
const GEMINI = 'gemini-caller@tvs-local.iam.gserviceaccount.com';

let stack: LocalStack;
let restoreEnv: () => void;
/** The workload's ID-token client for the service (one: GoogleAuth's environment detection is slow). */
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

describe('docs/openapi.yaml', () => {
  it('is OpenAPI 3.1 with the seven paths of the token API', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/healthz',
      '/v1/policy:notify',
      '/v1/projects/-/serviceAccounts/{serviceAccount}:generateAccessToken',
      '/v1/projects/-/serviceAccounts/{serviceAccount}:generateIdToken',
      '/v1/token',
      '/v1/users/{sub}:generateAccessToken',
      '/v1/users/{sub}:revokeGrant',
    ]);
    expect(Object.keys(doc.components.securitySchemes as object).sort()).toEqual([
      'googleAccessToken',
      'oauthClientBasic',
      'workloadIdToken',
    ]);
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
    const unresolved = refs.filter(
      (ref) =>
        ref
          .slice(2)
          .split('/')
          .reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], doc) ===
        undefined,
    );
    expect(unresolved).toEqual([]);
  });

  it('documents only routes the function serves, with their methods', async () => {
    for (const [path, operations] of Object.entries(doc.paths)) {
      const url = `${stack.tokenUrl}${path.replace('{serviceAccount}', GEMINI)}`;
      for (const method of Object.keys(operations)) {
        const res = await fetch(url, {
          method: method.toUpperCase(),
          headers: { 'content-type': 'application/json' },
          ...(method === 'get' ? {} : { body: '{}' }),
        });
        await res.arrayBuffer();
        expect({ path, method, status: res.status }).not.toMatchObject({ status: 404 });
        expect({ path, method, status: res.status }).not.toMatchObject({ status: 405 });
      }
    }
  });

  it('the documented generateAccessToken and generateIdToken examples succeed as written', async () => {
    for (const method of ['generateAccessToken', 'generateIdToken'] as const) {
      const operation = doc.paths[`/v1/projects/-/serviceAccounts/{serviceAccount}:${method}`].post;
      const example = operation.requestBody!.content['application/json'].example as Record<string, unknown>;
      const res = await idClient.request<Record<string, string>>({
        url: `${stack.tokenUrl}/v1/projects/-/serviceAccounts/${GEMINI}:${method}`,
        method: 'POST',
        data: example,
      });
      expect(res.status).toBe(200);
      expect(Object.keys(res.data).sort()).toEqual(
        method === 'generateAccessToken' ? ['accessToken', 'expireTime'] : ['token'],
      );
    }
  });
});

describe('docs/workloads.md snippets', () => {
  it('Node: stock Impersonated with an access-token source (email scope) and the service as endpoint', async () => {
    const sourceClient = await new GoogleAuth({
      scopes: [
        'https://www.googleapis.com/auth/cloud-platform',
        'https://www.googleapis.com/auth/userinfo.email',
      ],
    }).getClient();
    const creds = new Impersonated({
      sourceClient,
      targetPrincipal: GEMINI,
      targetScopes: ['https://www.googleapis.com/auth/cloud-platform'],
      lifetime: 3600,
      delegates: [],
      endpoint: stack.tokenUrl,
    });
    const { token } = await creds.getAccessToken();
    expect(stack.emulator.state.tokens.lookup(token!)).toMatchObject({ email: GEMINI });
    expect(await creds.fetchIdToken('https://example.com')).toMatch(/^eyJ/);
  });

  it('Node: Impersonated cannot use an ID-token source client (why the docs recommend VendedTokenClient)', async () => {
    const creds = new Impersonated({
      sourceClient: idClient,
      targetPrincipal: GEMINI,
      targetScopes: ['https://www.googleapis.com/auth/cloud-platform'],
      lifetime: 3600,
      delegates: [],
      endpoint: stack.tokenUrl,
    });
    await expect(creds.getAccessToken()).rejects.toThrow(/unable to impersonate/);
  });

  it.each([
    ['null (what Python sends for delegates=None) is refused', null, 400],
    ['[] is accepted', [], 200],
  ])('delegates %s', async (_name, delegates, status) => {
    const res = await idClient.request({
      url: `${stack.tokenUrl}/v1/projects/-/serviceAccounts/${GEMINI}:generateAccessToken`,
      method: 'POST',
      data: { delegates, scope: ['https://www.googleapis.com/auth/cloud-platform'], lifetime: '3600s' },
      validateStatus: () => true,
    });
    expect(res.status).toBe(status);
  });
});

describe('snippets run as written', () => {
  it('docs/workloads.md: the plain-HTTP generateIdToken curl returns an ID token', async () => {
    const [snippet] = blocks('workloads.md', 'sh').filter((b) => b.includes(':generateIdToken'));
    expect(snippet).toBeDefined();
    const caller = (await idClient.getRequestHeaders()).get('authorization')!.replace(/^Bearer /, '');
    const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', snippet], {
      env: { ...process.env, SERVICE: stack.tokenUrl, SA: GEMINI, CALLER_TOKEN: caller },
    });
    const { token } = JSON.parse(stdout) as { token: string };
    const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as Record<
      string,
      unknown
    >;
    expect(claims).toMatchObject({ aud: 'https://backend-abc123.a.run.app', email: GEMINI });
  });

  it('docs/adc.md: the generator command prints the JSON the page shows', async () => {
    const [command] = blocks('adc.md', 'sh');
    const [shown] = blocks('adc.md', 'json');
    const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', command], {
      cwd: new URL('.', ROOT),
      env: {
        ...process.env,
        SERVICE: 'https://tvs.example.com',
        SA: 'deployer@my-project.iam.gserviceaccount.com',
      },
    });
    expect(JSON.parse(stdout)).toEqual(JSON.parse(shown));
  });
});
