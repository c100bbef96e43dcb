/**
 * The client library with real SDKs against the local stack: @google/genai in Vertex mode with
 * the VendedTokenClient, in Gemini-API mode with the API key from Secret Manager, GoogleAuth and
 * gaxios through the AuthClient, and the error table produced by the emulator.
 */
import { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import * as grpc from '@grpc/grpc-js';
import { GoogleGenAI } from '@google/genai';
import { GoogleAuth } from 'google-auth-library';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  apiKeySecretVersion,
  GeminiApiKeySource,
  GeminiError,
  metadataIdTokenSource,
  TokenServiceError,
  VendedTokenClient,
  withApiKey,
  withGeminiRetry,
  type IdTokenSource,
  type VendedTokenClientOptions,
} from '../../../client/index.js';
import { startLocalStack, type LocalStack } from '../../../scripts/local-stack.js';
import { secretManagerClientOptions } from '../../../shared/gcp/secret-manager.js';
import { createCapture } from '../../support/capture.js';
import { useEmulatorMetadata } from '../../support/google-env.js';

type GoogleCredential = Parameters<typeof grpc.credentials.createFromGoogleCredential>[0];
type SecretManagerOptions = NonNullable<ConstructorParameters<typeof SecretManagerServiceClient>[0]>;

const GEMINI = 'gemini-caller@tvs-local.iam.gserviceaccount.com';
const MODEL = 'gemini-2.5-flash';
const FAST_RETRY = { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 3 };

let stack: LocalStack;
let restoreEnv: () => void;
/** One metadata-server ID token source for the tests that are not about it (GoogleAuth's environment detection costs ~1 s per instance). */
let idTokenSource: IdTokenSource;

beforeAll(async () => {
  stack = await startLocalStack({
    auditTransport: createCapture().stream,
    opsLogWrite: () => {},
    env: { TVS_UPSTREAM_MAX_ATTEMPTS: '1', TVS_UPSTREAM_DEADLINE_MS: '3000' },
  });
  restoreEnv = useEmulatorMetadata(stack.emulator.metadataHost);
  idTokenSource = metadataIdTokenSource(stack.tokenUrl);
});

afterAll(async () => {
  restoreEnv?.();
  await stack?.stop();
});

beforeEach(() => {
  stack.emulator.faults.reset();
  stack.token.minter.cache.clear();
});

const vended = (extra: Partial<VendedTokenClientOptions> = {}) =>
  new VendedTokenClient({
    serviceUrl: stack.tokenUrl,
    targetServiceAccount: GEMINI,
    retry: FAST_RETRY,
    idTokenSource,
    ...extra,
  });
const vertex = (authClient: VendedTokenClient, project = stack.emulator.projectId) =>
  new GoogleGenAI({
    vertexai: true,
    project,
    location: 'us-central1',
    googleAuthOptions: { authClient },
    httpOptions: { baseUrl: stack.emulator.httpUrl },
  });
const geminiApi = (apiKey: string) =>
  new GoogleGenAI({ apiKey, httpOptions: { baseUrl: stack.emulator.httpUrl } });
const keySource = () =>
  new GeminiApiKeySource({
    secretVersion: apiKeySecretVersion(stack.emulator.projectId, 'gemini-api-key'),
    secretManagerEndpoint: `http://${stack.emulator.grpcEndpoint}`,
    retry: FAST_RETRY,
  });

describe('@google/genai with the client', () => {
  it('Vertex mode with the VendedTokenClient gets a response, using a token minted for the target SA', async () => {
    // The default identity: an ID token from the metadata server for the service URL.
    const authClient = new VendedTokenClient({ serviceUrl: stack.tokenUrl, targetServiceAccount: GEMINI });
    const res = await withGeminiRetry(
      () => vertex(authClient).models.generateContent({ model: MODEL, contents: 'Hello' }),
      { authClient, retry: FAST_RETRY },
    );
    expect(res.text).toContain('Hello');
    const { token } = await authClient.getAccessToken();
    expect(stack.emulator.state.tokens.lookup(token)).toMatchObject({ email: GEMINI });
    expect(stack.emulator.faults.count('vertex.generateContent')).toBe(1);
    expect(stack.emulator.faults.count('metadata.identity')).toBe(1);
  });

  it('serves 20 Vertex calls from one vended token', async () => {
    const authClient = vended();
    const ai = vertex(authClient);
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => ai.models.generateContent({ model: MODEL, contents: `n${i}` })),
    );
    expect(stack.emulator.faults.count('vertex.generateContent')).toBe(20);
    expect(stack.emulator.faults.count('oauth.token')).toBe(1);
  });

  it('Gemini-API mode with the key from Secret Manager gets a response', async () => {
    const source = keySource();
    const res = await withApiKey(source, (apiKey) =>
      geminiApi(apiKey).models.generateContent({ model: MODEL, contents: 'Hi there' }),
    );
    expect(res.text).toContain('Hi there');
    expect(source.currentVersion).toMatch(/\/versions\/1$/);
    expect(stack.emulator.faults.count('secretmanager.AccessSecretVersion')).toBe(1);
  });
});

describe('the VendedTokenClient in the Google ecosystem', () => {
  it('GoogleAuth({authClient}) hands out the vended token and signs gaxios requests with it', async () => {
    const authClient = vended();
    const auth = new GoogleAuth({ authClient });
    const token = await auth.getAccessToken();
    expect(stack.emulator.state.tokens.lookup(token!)).toMatchObject({ email: GEMINI });
    const url = `${stack.emulator.httpUrl}/v1/projects/tvs-local/locations/us-central1/publishers/google/models/${MODEL}:generateContent`;
    const res = await auth.request<{ candidates: unknown[] }>({
      url,
      method: 'POST',
      data: { contents: [{ role: 'user', parts: [{ text: 'via gaxios' }] }] },
    });
    expect(res.status).toBe(200);
    expect(JSON.stringify(res.data)).toContain('via gaxios');
  });

  it('retries a gaxios request once with a fresh token after a 401', async () => {
    const authClient = vended();
    const first = (await authClient.getAccessToken()).token;
    stack.token.minter.cache.clear();
    stack.emulator.faults.inject({ endpoint: 'vertex.generateContent', status: 401, times: 1 });
    const url = `${stack.emulator.httpUrl}/v1/projects/tvs-local/locations/us-central1/publishers/google/models/${MODEL}:generateContent`;
    const res = await authClient.request({
      url,
      method: 'POST',
      data: { contents: [{ parts: [{ text: 'x' }] }] },
    });
    expect(res.status).toBe(200);
    expect((await authClient.getAccessToken()).token).not.toBe(first);
    expect(stack.emulator.faults.count('vertex.generateContent')).toBe(2);
  });

  it('is adopted by SecretManagerServiceClient, and yields gRPC call credentials with the vended token', async () => {
    // Over the emulator's plaintext gRPC the channel carries no call credentials, so the client
    // library never asks for headers. What it does over TLS is what is checked below: gax wraps
    // the AuthClient with grpc-js createFromGoogleCredential and sends the generated metadata.
    const authClient = vended();
    // google-auth-library types `authClient` as a union of its own classes: a subclass needs a cast.
    const client = new SecretManagerServiceClient({
      ...(await secretManagerClientOptions(`http://${stack.emulator.grpcEndpoint}`)),
      authClient: authClient as unknown as SecretManagerOptions['authClient'],
    });
    try {
      expect(await client.auth.getClient()).toBe(authClient);
      const metadata = await grpc.credentials
        .createFromGoogleCredential(authClient as unknown as GoogleCredential)
        .generateMetadata({
          service_url: 'https://secretmanager.googleapis.com',
          method_name: 'AccessSecretVersion',
        });
      const [authorization] = metadata.get('authorization');
      const token = String(authorization).replace(/^Bearer /, '');
      expect(stack.emulator.state.tokens.lookup(token)).toMatchObject({ email: GEMINI });
      const [version] = await client.accessSecretVersion({
        name: 'projects/tvs-local/secrets/plain/versions/latest',
      });
      expect(Buffer.from(version.payload!.data!).toString()).toBe('hello');
    } finally {
      await client.close();
    }
  });
});

describe('error table: produced by the emulator, surfaced as friendly errors', () => {
  it.each<[string, () => Promise<unknown>, Record<string, unknown>, RegExp]>([
    [
      '400 INVALID_ARGUMENT (empty parts)',
      () =>
        withApiKey(keySource(), (k) =>
          geminiApi(k).models.generateContent({ model: MODEL, contents: [{ role: 'user', parts: [] }] }),
        ),
      { code: 'INVALID_ARGUMENT', httpStatus: 400 },
      /check the request/i,
    ],
    [
      '400 API_KEY_INVALID (an unknown key)',
      () =>
        withApiKey({ getKey: () => Promise.resolve('AIzaNotAKey'), invalidate: () => undefined }, (k) =>
          geminiApi(k).models.generateContent({ model: MODEL, contents: 'x' }),
        ),
      { code: 'INVALID_ARGUMENT', httpStatus: 400, reason: 'API_KEY_INVALID' },
      /API key is not valid/,
    ],
    [
      '403 PERMISSION_DENIED (Vertex, another project)',
      () => vertex(vended(), 'someone-elses-project').models.generateContent({ model: MODEL, contents: 'x' }),
      { code: 'PERMISSION_DENIED', httpStatus: 403, reason: 'IAM_PERMISSION_DENIED' },
      /scopes.*policy/,
    ],
    [
      '404 NOT_FOUND (unknown model)',
      () =>
        withApiKey(keySource(), (k) =>
          geminiApi(k).models.generateContent({ model: 'gemini-0-nope', contents: 'x' }),
        ),
      { code: 'NOT_FOUND', httpStatus: 404 },
      /model name/,
    ],
  ])('Gemini %s', async (_name, call, expected, hint) => {
    const err = (await withGeminiRetry(call, { retry: FAST_RETRY }).catch((e: unknown) => e)) as GeminiError;
    expect(err).toBeInstanceOf(GeminiError);
    expect(err).toMatchObject({ ...expected, attempts: 1 });
    expect(err.hint).toMatch(hint);
  });

  it('403 for a key restricted to another API', async () => {
    const other = stack.emulator.state.apiKeys.create(undefined, {
      restrictions: { apiTargets: [{ service: 'translate.googleapis.com' }] },
    });
    const err = await withApiKey(
      { getKey: () => Promise.resolve(other.keyString), invalidate: () => undefined },
      (k) => geminiApi(k).models.generateContent({ model: MODEL, contents: 'x' }),
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({
      name: 'GeminiError',
      code: 'PERMISSION_DENIED',
      httpStatus: 403,
      reason: 'API_KEY_SERVICE_BLOCKED',
    });
    expect((err as Error).message).not.toContain(other.keyString);
  });

  it.each([
    ['gemini.generateContent', 500, 'INTERNAL'],
    ['gemini.generateContent', 503, 'UNAVAILABLE'],
    ['vertex.generateContent', 503, 'UNAVAILABLE'],
  ])('%s %i is retried maxAttempts times, then surfaced as %s', async (endpoint, status, code) => {
    const source = keySource();
    const authClient = vended();
    await Promise.all([source.getKey(), authClient.getAccessToken()]);
    stack.emulator.faults.inject({ endpoint, status, times: 10 });
    const call = endpoint.startsWith('gemini')
      ? () =>
          withApiKey(source, (k) => geminiApi(k).models.generateContent({ model: MODEL, contents: 'x' }), {
            retry: FAST_RETRY,
          })
      : () =>
          withGeminiRetry(() => vertex(authClient).models.generateContent({ model: MODEL, contents: 'x' }), {
            retry: FAST_RETRY,
            authClient,
          });
    const err = (await call().catch((e: unknown) => e)) as GeminiError;
    expect(err).toMatchObject({ name: 'GeminiError', code, httpStatus: status, attempts: 3 });
    expect(err.hint).toMatch(/after 3 attempt\(s\).*retry later/);
    expect(stack.emulator.faults.count(endpoint)).toBe(3);
  });

  it('a transient 503 is retried and the call succeeds', async () => {
    const source = keySource();
    stack.emulator.faults.inject({ endpoint: 'gemini.generateContent', status: 503, times: 2 });
    const res = await withApiKey(
      source,
      (k) => geminiApi(k).models.generateContent({ model: MODEL, contents: 'third time' }),
      { retry: FAST_RETRY },
    );
    expect(res.text).toContain('third time');
    expect(stack.emulator.faults.count('gemini.generateContent')).toBe(3);
  });

  it.each<[string, Partial<VendedTokenClientOptions>, Record<string, unknown>, RegExp]>([
    [
      '400 INVALID_ARGUMENT (a malformed scope)',
      { scopes: ['not a scope'] },
      { code: 'INVALID_ARGUMENT', httpStatus: 400, reason: 'INVALID_REQUEST_FIELD' },
      /check the request/i,
    ],
    [
      '401 UNAUTHENTICATED (a garbage caller token)',
      { idTokenSource: () => Promise.resolve('garbage') },
      { code: 'UNAUTHENTICATED', httpStatus: 401 },
      /identity/,
    ],
    [
      '403 PERMISSION_DENIED (an SA the policy does not allow)',
      { targetServiceAccount: 'workload@tvs-local.iam.gserviceaccount.com' },
      { code: 'PERMISSION_DENIED', httpStatus: 403 },
      /policy/,
    ],
    [
      '404 NOT_FOUND (a wrong service URL)',
      { serviceUrl: '' },
      { code: 'NOT_FOUND', httpStatus: 404, reason: 'PATH_NOT_FOUND' },
      /URL/,
    ],
  ])('token service %s', async (_name, options, expected, hint) => {
    const opts =
      options.serviceUrl === '' ? { ...options, serviceUrl: `${stack.tokenUrl}/wrong/prefix` } : options;
    const err = (await vended(opts)
      .getAccessToken()
      .catch((e: unknown) => e)) as TokenServiceError;
    expect(err).toBeInstanceOf(TokenServiceError);
    expect(err).toMatchObject({ ...expected, attempts: 1 });
    expect(err.hint).toMatch(hint);
  });

  it('token service 503 (Google down) is retried maxAttempts times, then surfaced as UNAVAILABLE', async () => {
    stack.emulator.faults.inject({ endpoint: 'oauth.token', status: 503, times: 10 });
    const err = await vended()
      .getAccessToken()
      .catch((e: unknown) => e);
    expect(err).toMatchObject({
      name: 'TokenServiceError',
      code: 'UNAVAILABLE',
      httpStatus: 503,
      attempts: 3,
    });
    expect(stack.emulator.faults.count('oauth.token')).toBe(3);
  });
});
