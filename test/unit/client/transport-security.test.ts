import { describe, expect, it } from 'vitest';
import {
  GeminiApiKeySource,
  InsecureTransportError,
  VendedTokenClient,
  apiKeySecretVersion,
} from '../../../client/index.js';

const SA = 'gemini-caller@p.iam.gserviceaccount.com';
const ID_TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLWJ5dGVz';

/** A client whose ID token source and fetch record every use. */
function recordingClient(serviceUrl: string) {
  const used: string[] = [];
  const fetchImpl = ((url: URL) => {
    used.push(`fetch ${String(url)}`);
    return Promise.resolve(
      new Response(JSON.stringify({ accessToken: 'ya29.x', expireTime: '2099-01-01T00:00:00Z' }), {
        status: 200,
      }),
    );
  }) as typeof fetch;
  const idTokenSource = () => {
    used.push('id token');
    return Promise.resolve(ID_TOKEN);
  };
  return {
    used,
    create: () => new VendedTokenClient({ serviceUrl, targetServiceAccount: SA, idTokenSource, fetchImpl }),
  };
}

describe('plain http only to loopback hosts', () => {
  it.each([
    'http://127.0.0.1:8080',
    'http://127.1.2.3',
    'http://localhost:9000/',
    'http://[::1]:8080',
    'https://tvs.example.com',
    'https://10.0.0.8',
  ])('accepts %s and sends the ID token to it', async (serviceUrl) => {
    const { used, create } = recordingClient(serviceUrl);
    await create().getAccessToken();
    expect(used).toEqual([
      'id token',
      `fetch ${serviceUrl.replace(/\/$/, '')}/v1/projects/-/serviceAccounts/${SA}:generateAccessToken`,
    ]);
  });

  it.each([
    ['a public host name', 'http://tvs.example.com', 'tvs.example.com'],
    ['a private address', 'http://10.0.0.8:8080', '10.0.0.8'],
    ['a name that starts like loopback', 'http://127.0.0.1.nip.io', '127.0.0.1.nip.io'],
    ['a subdomain of localhost lookalike', 'http://localhost.example.com', 'localhost.example.com'],
    ['an unspecified address', 'http://0.0.0.0:8080', '0.0.0.0'],
    ['an IPv6 address that is not ::1', 'http://[fd00::1]:8080', '[fd00::1]'],
  ])('refuses %s before fetching an ID token or calling anything', (_what, serviceUrl, host) => {
    const { used, create } = recordingClient(serviceUrl);
    let caught: unknown;
    try {
      create();
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InsecureTransportError);
    expect(caught).toBeInstanceOf(TypeError);
    const error = caught as InsecureTransportError;
    expect(error.code).toBe('INSECURE_TRANSPORT');
    expect(error.host).toBe(host);
    expect(error.message).toBe(
      `VendedTokenClient: serviceUrl must use https; plain http is allowed only to loopback hosts (127.0.0.0/8, ::1, localhost), not ${host}`,
    );
    expect(used).toEqual([]);
  });

  it('never repeats credentials of the URL in the error', () => {
    const { create } = recordingClient('http://user:s3cr3t-pass@tvs.example.com/');
    expect(create).toThrow(InsecureTransportError);
    expect(create).not.toThrow(/s3cr3t-pass|user/);
  });

  it('applies the same rule to the Secret Manager endpoint of the API key source', () => {
    const secretVersion = apiKeySecretVersion('p', 'gemini-api-key');
    expect(
      () =>
        new GeminiApiKeySource({
          secretVersion,
          secretManagerEndpoint: 'http://secretmanager.example.com:8443',
        }),
    ).toThrow(InsecureTransportError);
    expect(
      () => new GeminiApiKeySource({ secretVersion, secretManagerEndpoint: 'http://127.0.0.1:8443' }),
    ).not.toThrow();
    expect(
      () =>
        new GeminiApiKeySource({
          secretVersion,
          secretManagerEndpoint: 'https://secretmanager.googleapis.com',
        }),
    ).not.toThrow();
  });
});
