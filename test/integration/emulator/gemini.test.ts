import { ApiError, GoogleGenAI } from '@google/genai';
import { GoogleAuth, OAuth2Client, type AuthClient } from 'google-auth-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../emulator/index.js';
import { useEmulatorMetadata } from '../../support/google-env.js';

const PROJECT = 'tvs-gemini';
const NUMBER = '510987654321';
const LOCATION = 'us-central1';
const WORKLOAD = `workload@${PROJECT}.iam.gserviceaccount.com`;
const GEMINI = 'generativelanguage.googleapis.com';
const MODEL = 'gemini-2.5-flash';

let emulator: Emulator;
let restoreEnv: () => void;
let metadataClient: AuthClient;

beforeAll(async () => {
  emulator = await startEmulator({
    seed: {
      projectId: PROJECT,
      projectNumber: NUMBER,
      serviceAccounts: [{ email: WORKLOAD }],
      metadata: { defaultServiceAccount: WORKLOAD },
      apiKeys: [
        { id: 'gemini-only', restrictions: { apiTargets: [{ service: GEMINI }] } },
        { id: 'translate-only', restrictions: { apiTargets: [{ service: 'translate.googleapis.com' }] } },
        {
          id: 'loopback-only',
          restrictions: {
            serverKeyRestrictions: { allowedIps: ['127.0.0.1'] },
            apiTargets: [{ service: GEMINI }],
          },
        },
        {
          id: 'office-only',
          restrictions: { serverKeyRestrictions: { allowedIps: ['10.0.0.0/8', '2001:db8::/32'] } },
        },
        { id: 'list-only', restrictions: { apiTargets: [{ service: GEMINI, methods: ['ListModels'] }] } },
        { id: 'rotated-out' },
      ],
    },
  });
  restoreEnv = useEmulatorMetadata(emulator.metadataHost);
  metadataClient = await new GoogleAuth({
    scopes: ['https://www.googleapis.com/auth/cloud-platform'],
  }).getClient();
});

afterAll(async () => {
  restoreEnv?.();
  await emulator?.stop();
});

function keyString(id: string): string {
  return emulator.state.apiKeys.get(id)!.keyString;
}

function geminiApi(apiKey: string): GoogleGenAI {
  return new GoogleGenAI({ apiKey, httpOptions: { baseUrl: emulator.httpUrl } });
}

function vertex(authClient: AuthClient): GoogleGenAI {
  return new GoogleGenAI({
    vertexai: true,
    project: PROJECT,
    location: LOCATION,
    googleAuthOptions: { authClient },
    httpOptions: { baseUrl: emulator.httpUrl },
  });
}

/** A client that sends exactly this access token. */
function bearer(token: string): AuthClient {
  const client = new OAuth2Client();
  client.setCredentials({ access_token: token, expiry_date: Date.now() + 3_600_000 });
  return client;
}

interface GoogleErrorBody {
  error: {
    code: number;
    message: string;
    status: string;
    details?: { reason?: string; metadata?: Record<string, string> }[];
  };
}

/** The SDK's ApiError, with Google's error body parsed back out of its message. */
async function failure(call: Promise<unknown>): Promise<{ status: number; body: GoogleErrorBody }> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApiError);
  const apiError = error as ApiError;
  return { status: apiError.status, body: JSON.parse(apiError.message) as GoogleErrorBody };
}

const ask = (ai: GoogleGenAI, model = MODEL, contents: unknown = 'hello there') =>
  ai.models.generateContent({ model, contents: contents as string });

describe('Gemini API with an API key (@google/genai)', () => {
  it('answers generateContent deterministically', async () => {
    const before = emulator.faults.count('gemini.generateContent');
    const response = await ask(geminiApi(keyString('gemini-only')));
    expect(response.text).toBe('echo: hello there');
    expect(response.candidates?.[0]).toMatchObject({
      finishReason: 'STOP',
      index: 0,
      content: { role: 'model' },
    });
    expect(response.usageMetadata).toEqual({
      promptTokenCount: 3,
      candidatesTokenCount: 5,
      totalTokenCount: 8,
    });
    expect(response.modelVersion).toBe(MODEL);
    expect(emulator.faults.count('gemini.generateContent')).toBe(before + 1);
  });

  it('streams the answer as server-sent events', async () => {
    const texts: string[] = [];
    for await (const chunk of await geminiApi(keyString('gemini-only')).models.generateContentStream({
      model: MODEL,
      contents: 'stream me',
    }))
      texts.push(chunk.text ?? '');
    expect(texts.join('')).toBe('echo: stream me');
  });

  it('lists models for a cheap key check, honouring method restrictions', async () => {
    const pager = await geminiApi(keyString('list-only')).models.list();
    expect(pager.page.map((m) => m.name)).toContain(`models/${MODEL}`);
    const refused = await failure(ask(geminiApi(keyString('list-only'))));
    expect(refused.status).toBe(403);
    expect(refused.body.error.details?.[0]?.reason).toBe('API_KEY_SERVICE_BLOCKED');
  });

  it('admits a key restricted to the caller’s own address (loopback in any form)', async () => {
    expect((await ask(geminiApi(keyString('loopback-only')))).text).toBe('echo: hello there');
  });

  it.each<[string, () => Promise<unknown>, number, string, string | undefined, string]>([
    [
      'a content without parts',
      () => ask(geminiApi(keyString('gemini-only')), MODEL, [{ role: 'user', parts: [] }]),
      400,
      'INVALID_ARGUMENT',
      undefined,
      'GenerateContentRequest.contents[0].parts: contents.parts must not be empty.',
    ],
    [
      'an unknown key',
      () => ask(geminiApi('AIzaSyNotARealKeyNotARealKeyNotARealKe')),
      400,
      'INVALID_ARGUMENT',
      'API_KEY_INVALID',
      'API key not valid. Please pass a valid API key.',
    ],
    [
      'a key restricted to other addresses',
      () => ask(geminiApi(keyString('office-only'))),
      403,
      'PERMISSION_DENIED',
      'API_KEY_IP_ADDRESS_BLOCKED',
      'The provided API key has an IP address restriction. The originating IP address of the call (127.0.0.1) violates this restriction.',
    ],
    [
      'a key restricted to another API',
      () => ask(geminiApi(keyString('translate-only'))),
      403,
      'PERMISSION_DENIED',
      'API_KEY_SERVICE_BLOCKED',
      `Requests to this API ${GEMINI} method google.ai.generativelanguage.v1beta.GenerativeService.GenerateContent are blocked.`,
    ],
    [
      'an unknown model',
      () => ask(geminiApi(keyString('gemini-only')), 'gemini-0.1-nope'),
      404,
      'NOT_FOUND',
      undefined,
      'models/gemini-0.1-nope is not found for API version v1beta, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods.',
    ],
  ])('refuses %s', async (_name, call, status, statusName, reason, message) => {
    const { status: got, body } = await failure(call());
    expect(got).toBe(status);
    expect(body.error).toMatchObject({ code: status, status: statusName });
    expect(body.error.message).toContain(message);
    if (reason === undefined) expect(body.error.details).toBeUndefined();
    else
      expect(body.error.details?.[0]).toMatchObject({
        '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
        reason,
        domain: 'googleapis.com',
      });
  });

  it('answers injected 500s in the error model', async () => {
    emulator.faults.inject({ endpoint: 'gemini.generateContent', times: 1, status: 500 });
    const { status, body } = await failure(ask(geminiApi(keyString('gemini-only'))));
    expect(status).toBe(500);
    expect(body).toEqual({
      error: { code: 500, message: 'Internal error encountered.', status: 'INTERNAL' },
    });
    expect((await ask(geminiApi(keyString('gemini-only')))).text).toBe('echo: hello there');
  });

  it('stops a soft-deleted key at once and accepts it again after undelete', async () => {
    const ai = geminiApi(keyString('rotated-out'));
    expect((await ask(ai)).text).toBe('echo: hello there');
    emulator.state.apiKeys.delete('rotated-out');
    const refused = await failure(ask(ai));
    expect(refused.status).toBe(400);
    expect(refused.body.error.details?.[0]?.reason).toBe('API_KEY_INVALID');
    emulator.state.apiKeys.undelete('rotated-out');
    expect((await ask(ai)).text).toBe('echo: hello there');
  });

  it.each<[string, RequestInit, string, number, string]>([
    [
      'no key at all',
      { method: 'POST', body: '{"contents":[{"parts":[{"text":"x"}]}]}' },
      '',
      403,
      "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
    ],
    [
      'a body that is not JSON',
      { method: 'POST', body: '{contents:' },
      '?key=KEY',
      400,
      'Invalid JSON payload received.',
    ],
    [
      'a body without contents',
      { method: 'POST', body: '{}' },
      '?key=KEY',
      400,
      '* GenerateContentRequest.contents: contents is not specified',
    ],
  ])('answers raw HTTP with %s', async (_name, init, query, status, message) => {
    const response = await fetch(
      `${emulator.httpUrl}/v1beta/models/${MODEL}:generateContent${query.replace('KEY', keyString('gemini-only'))}`,
      init,
    );
    const body = (await response.json()) as GoogleErrorBody;
    expect(response.status).toBe(status);
    expect(body.error.message).toContain(message);
  });
});

describe('the demo seed', () => {
  it('holds the gemini-demo key string in Secret Manager, and that key works at Gemini', async () => {
    const demo = await startEmulator();
    try {
      const secret = demo.state.secrets.accessVersion(
        'projects/tvs-local/secrets/gemini-api-key/versions/current',
      );
      const apiKey = secret.data.toString('utf8');
      expect(apiKey).toBe(demo.state.apiKeys.get('gemini-demo')?.keyString);
      const ai = new GoogleGenAI({ apiKey, httpOptions: { baseUrl: demo.httpUrl } });
      expect((await ai.models.generateContent({ model: MODEL, contents: 'demo' })).text).toBe('echo: demo');
    } finally {
      await demo.stop();
    }
  });
});

describe('Gemini credentials outside the SDK defaults', () => {
  const body = JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'raw' }] }] });

  it('accepts an OAuth bearer token on the Gemini API instead of a key', async () => {
    const authorization = (await metadataClient.getRequestHeaders()).get('authorization');
    expect(authorization).toMatch(/^Bearer ya29\./);
    const response = await fetch(`${emulator.httpUrl}/v1beta/models/${MODEL}:generateContent`, {
      method: 'POST',
      headers: { Authorization: authorization! },
      body,
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      candidates: [{ content: { parts: [{ text: 'echo: raw' }] } }],
    });
  });

  it('refuses an API key on the Vertex AI regional endpoint', async () => {
    const url = `${emulator.httpUrl}/v1/projects/${PROJECT}/locations/${LOCATION}/publishers/google/models/${MODEL}:generateContent`;
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'x-goog-api-key': keyString('gemini-only') },
      body,
    });
    const error = ((await response.json()) as GoogleErrorBody).error;
    expect(response.status).toBe(401);
    expect(error.message).toMatch(/^API keys are not supported by this API\. Expected OAuth2 access token/);
    expect(error.details?.[0]?.reason).toBe('CREDENTIALS_MISSING');
  });
});

describe('Vertex AI with a bearer token (@google/genai, vertexai: true)', () => {
  it('answers generateContent for a metadata-server token on the v1beta1 publisher-model path', async () => {
    const before = emulator.faults.count('vertex.generateContent');
    const response = await ask(vertex(metadataClient), MODEL, 'from vertex');
    expect(response.text).toBe('echo: from vertex');
    expect(emulator.faults.count('vertex.generateContent')).toBe(before + 1);
  });

  it.each<
    [string, () => AuthClient, () => Promise<unknown> | undefined, string, number, string, string | undefined]
  >([
    [
      'a token the emulator never issued',
      () => bearer('ya29.forged'),
      () => undefined,
      MODEL,
      401,
      'UNAUTHENTICATED',
      'ACCESS_TOKEN_TYPE_UNSUPPORTED',
    ],
    [
      'a token without cloud-platform scope',
      () =>
        bearer(
          emulator.state.tokens.issue({
            email: WORKLOAD,
            scopes: ['https://www.googleapis.com/auth/userinfo.email'],
            issuedBy: 'test',
          }).value,
        ),
      () => undefined,
      MODEL,
      403,
      'PERMISSION_DENIED',
      'ACCESS_TOKEN_SCOPE_INSUFFICIENT',
    ],
    [
      'an unknown model',
      () => metadataClient,
      () => undefined,
      'gemini-0.1-nope',
      404,
      'NOT_FOUND',
      undefined,
    ],
    [
      'an injected 503',
      () => metadataClient,
      () => {
        emulator.faults.inject({ endpoint: 'vertex.generateContent', times: 1, status: 503 });
        return undefined;
      },
      MODEL,
      503,
      'UNAVAILABLE',
      undefined,
    ],
  ])('refuses %s', async (_name, auth, arrange, model, status, statusName, reason) => {
    await arrange();
    const { status: got, body } = await failure(ask(vertex(auth()), model));
    expect(got).toBe(status);
    expect(body.error).toMatchObject({ code: status, status: statusName });
    if (reason !== undefined)
      expect(body.error.details?.[0]).toMatchObject({
        reason,
        metadata: { service: 'aiplatform.googleapis.com' },
      });
    if (status === 404)
      expect(body.error.message).toContain(
        `Publisher Model \`projects/${PROJECT}/locations/${LOCATION}/publishers/google/models/${model}\` was not found`,
      );
  });

  it('refuses a content without parts', async () => {
    const { status, body } = await failure(ask(vertex(metadataClient), MODEL, [{ role: 'user', parts: [] }]));
    expect(status).toBe(400);
    expect(body.error.status).toBe('INVALID_ARGUMENT');
  });
});
