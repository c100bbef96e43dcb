import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FetchError } from '../../../../../shared/http/bounded-fetch.js';
import {
  fetchJsonDocument,
  type DocumentFetchLimits,
} from '../../../../../functions/token/auth/fetch-json-document.js';
import { rejectionOf, startTestServer, type TestServer } from './support/test-servers.js';

let server: TestServer;

beforeEach(async () => {
  server = await startTestServer();
});

afterEach(async () => {
  await server.close();
});

const limits = (overrides: Partial<DocumentFetchLimits> = {}): DocumentFetchLimits => ({
  fetchTimeoutMs: 5000,
  maxDocumentBytes: 65_536,
  fetchImpl: undefined,
  ...overrides,
});

/** Answers `path` with `status` and `text` as the body, verbatim. */
function serve(path: string, status: number, text: string): void {
  server.route(path, (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(text);
  });
}

async function failure(url: string, options = limits()): Promise<Error> {
  const error = await rejectionOf(fetchJsonDocument(url, options));
  expect(error).toBeInstanceOf(Error);
  return error as Error;
}

describe('fetchJsonDocument', () => {
  it('GETs the document asking for JSON and returns its object and headers', async () => {
    let request: { method?: string; accept?: string } = {};
    server.route('/doc', (req, res) => {
      request = { method: req.method, accept: req.headers.accept };
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=60' });
      res.end(JSON.stringify({ issuer: 'https://issuer.example', keys: [] }));
    });
    const document = await fetchJsonDocument(`${server.baseUrl}/doc`, limits());
    expect(document.body).toEqual({ issuer: 'https://issuer.example', keys: [] });
    expect(document.headers.get('cache-control')).toBe('max-age=60');
    expect(request).toEqual({ method: 'GET', accept: 'application/json' });
  });

  it('fetches through the fetchImpl it is given', async () => {
    server.json('/doc', { ok: true });
    const seen: string[] = [];
    const fetchImpl: typeof fetch = (input, init) => {
      seen.push(input instanceof Request ? input.url : input.toString());
      return fetch(input, init);
    };
    const document = await fetchJsonDocument(`${server.baseUrl}/doc`, limits({ fetchImpl }));
    expect(document.body).toEqual({ ok: true });
    expect(seen).toEqual([`${server.baseUrl}/doc`]);
  });

  it.each([404, 500, 201, 304])('refuses an HTTP %i answer, even with a JSON object body', async (status) => {
    serve('/doc', status, status === 304 ? '' : '{"keys":[]}');
    const error = await failure(`${server.baseUrl}/doc`);
    expect(error.message).toBe(`GET ${server.baseUrl}/doc: HTTP ${status}`);
  });

  it('names the URL and the status of a path the server does not serve', async () => {
    const error = await failure(`${server.baseUrl}/missing`);
    expect(error.message).toBe(`GET ${server.baseUrl}/missing: HTTP 404`);
  });

  it('refuses a body that is not JSON, keeping the parse error as the cause', async () => {
    serve('/doc', 200, '<html>not json</html>');
    const error = await failure(`${server.baseUrl}/doc`);
    expect(error.message).toBe(`GET ${server.baseUrl}/doc: body is not JSON`);
    expect(error.cause).toBeInstanceOf(SyntaxError);
  });

  it.each([
    ['an array', '[{"kid":"k1"}]'],
    ['null', 'null'],
    ['a string', '"keys"'],
    ['a number', '42'],
  ])('refuses a JSON body that is %s, not an object', async (_name, text) => {
    serve('/doc', 200, text);
    const error = await failure(`${server.baseUrl}/doc`);
    expect(error.message).toBe(`GET ${server.baseUrl}/doc: body is not a JSON object`);
  });

  it('gives up after fetchTimeoutMs, naming the URL and keeping the FetchError as the cause', async () => {
    server.hang('/doc');
    const error = await failure(`${server.baseUrl}/doc`, limits({ fetchTimeoutMs: 50 }));
    expect(error.message).toBe(`GET ${server.baseUrl}/doc: request timed out after 50 ms`);
    expect(error.cause).toBeInstanceOf(FetchError);
    expect((error.cause as FetchError).kind).toBe('timeout');
  });

  it('refuses a body larger than maxDocumentBytes and accepts one of exactly that size', async () => {
    const text = JSON.stringify({ pad: 'x'.repeat(100) });
    serve('/doc', 200, text);
    const exact = await fetchJsonDocument(`${server.baseUrl}/doc`, limits({ maxDocumentBytes: text.length }));
    expect(exact.body).toEqual({ pad: 'x'.repeat(100) });
    const error = await failure(`${server.baseUrl}/doc`, limits({ maxDocumentBytes: text.length - 1 }));
    expect(error.message).toBe(`GET ${server.baseUrl}/doc: response body exceeded ${text.length - 1} bytes`);
    expect((error.cause as FetchError).kind).toBe('too_large');
  });

  it('reports a connection failure with the URL', async () => {
    const url = `${server.baseUrl}/doc`;
    await server.close();
    const error = await failure(url);
    expect(error.message).toBe(`GET ${url}: request failed`);
    expect((error.cause as FetchError).kind).toBe('network');
    server = await startTestServer();
  });

  it('reports invalid limits as a failure to GET, with the TypeError as the cause', async () => {
    const error = await failure(`${server.baseUrl}/doc`, limits({ fetchTimeoutMs: 0 }));
    expect(error.message).toBe(
      `GET ${server.baseUrl}/doc: boundedFetch: timeoutMs must be a positive number`,
    );
    expect(error.cause).toBeInstanceOf(TypeError);
    expect(server.count()).toBe(0);
  });
});
