/**
 * The one reader of `Authorization` and Cloud Run's `X-Serverless-Authorization`: raw requests over
 * a loopback socket (so Node's own header parsing, duplicates included), each answered with what
 * `callerAuthorization` returned or the error it threw.
 */
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnauthenticatedError } from '../../../../../shared/errors.js';
import { SERVERLESS_AUTHORIZATION_MESSAGES } from '../../../../../functions/token/auth/reasons.js';
import {
  callerAuthorization,
  readCredentialHeaders,
} from '../../../../../functions/token/http/credential-headers.js';

const JWT_A = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnLWE';
const JWT_B = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJiIn0.c2lnLWI';
/** JWT_A as Cloud Run forwards it after verifying it: same signing input, signature replaced. */
const JWT_A_STRIPPED = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.SIGNATURE_REMOVED_BY_GOOGLE';

interface Outcome {
  authorization?: string | null;
  serverlessAuthorization?: boolean;
  reuses?: Record<string, boolean>;
  error?: { code: string; reason: string; message: string; detail: string | undefined };
}

let server: Server;
let port: number;
beforeAll(async () => {
  // A larger header limit than Node's default, so the reader's own bound is what refuses a huge value.
  server = createServer({ maxHeaderSize: 64 * 1024 }, (req, res) => {
    let outcome: Outcome;
    try {
      const headers = readCredentialHeaders(req);
      const authorization = callerAuthorization(req);
      outcome = {
        authorization: authorization ?? null,
        serverlessAuthorization: headers.serverlessAuthorization,
        reuses: Object.fromEntries(
          [JWT_A, JWT_B, JWT_A_STRIPPED, 'opaque'].map((t) => [t, headers.isServerlessAuthorizationToken(t)]),
        ),
      };
    } catch (err) {
      const e = err as UnauthenticatedError;
      expect(e).toBeInstanceOf(UnauthenticatedError);
      outcome = { error: { code: e.code, reason: e.reason, message: e.message, detail: e.detail } };
    }
    res.end(JSON.stringify(outcome));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Sends a request with exactly these raw header lines and returns the outcome. */
function send(headerLines: string[]): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(['GET / HTTP/1.1', 'Host: x', 'Connection: close', ...headerLines, '', ''].join('\r\n'));
    });
    let raw = '';
    socket.on('data', (c: Buffer) => (raw += c.toString('utf8')));
    socket.on('end', () => {
      const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
      const json = body.slice(body.indexOf('{'), body.lastIndexOf('}') + 1);
      resolve(JSON.parse(json) as Outcome);
    });
    socket.on('error', reject);
  });
}

async function refusal(headerLines: string[]): Promise<NonNullable<Outcome['error']>> {
  const outcome = await send(headerLines);
  expect(outcome.error, JSON.stringify(outcome)).toBeDefined();
  const error = outcome.error!;
  expect(error.code).toBe('UNAUTHENTICATED');
  for (const token of [JWT_A, JWT_B, JWT_A_STRIPPED]) {
    expect(error.message).not.toContain(token);
    expect(error.detail ?? '').not.toContain(token);
  }
  return error;
}

describe('without X-Serverless-Authorization: exactly as before', () => {
  it.each([
    ['a bearer token', [`Authorization: Bearer ${JWT_A}`], `Bearer ${JWT_A}`],
    ['no Authorization', [], null],
    ['a Basic credential', ['Authorization: Basic YTpi'], 'Basic YTpi'],
    ['an empty Authorization', ['Authorization: '], ''],
    [
      'two Authorization headers (Node keeps the first)',
      [`Authorization: Bearer ${JWT_A}`, `Authorization: Bearer ${JWT_B}`],
      `Bearer ${JWT_A}`,
    ],
  ])('passes on %s untouched, and nothing is a platform token', async (_name, lines, expected) => {
    const outcome = await send(lines);
    expect(outcome.authorization).toBe(expected);
    expect(outcome.serverlessAuthorization).toBe(false);
    expect(Object.values(outcome.reuses!)).toEqual([false, false, false, false]);
  });
});

describe('with X-Serverless-Authorization', () => {
  it('returns Authorization, never the platform header, when it carries another token', async () => {
    const outcome = await send([
      `X-Serverless-Authorization: Bearer ${JWT_B}`,
      `Authorization: Bearer ${JWT_A}`,
    ]);
    expect(outcome.authorization).toBe(`Bearer ${JWT_A}`);
    expect(outcome.serverlessAuthorization).toBe(true);
    expect(outcome.reuses).toEqual({ [JWT_A]: false, [JWT_B]: true, [JWT_A_STRIPPED]: false, opaque: false });
  });

  it('accepts the header name and the Bearer scheme in any case', async () => {
    const outcome = await send([
      `x-SERVERLESS-authorization: bEaReR ${JWT_B}`,
      `Authorization: Bearer ${JWT_A}`,
    ]);
    expect(outcome.authorization).toBe(`Bearer ${JWT_A}`);
  });

  it.each([
    ['no Authorization', [`X-Serverless-Authorization: Bearer ${JWT_A}`]],
    ['an empty Authorization', [`X-Serverless-Authorization: Bearer ${JWT_A}`, 'Authorization: ']],
    ['a blank Authorization', [`X-Serverless-Authorization: Bearer ${JWT_A}`, 'Authorization:    ']],
  ])('refuses %s: the caller must put its own credential in Authorization', async (_name, lines) => {
    const error = await refusal(lines);
    expect(error.reason).toBe('SERVERLESS_AUTHORIZATION_WITHOUT_CALLER_CREDENTIAL');
    expect(error.message).toBe(
      SERVERLESS_AUTHORIZATION_MESSAGES[error.reason as 'SERVERLESS_AUTHORIZATION_WITHOUT_CALLER_CREDENTIAL'],
    );
    expect(error.message).toContain('Authorization header');
  });

  it.each([
    ['the same token in both', `Bearer ${JWT_A}`, `Bearer ${JWT_A}`],
    [
      'the same token, as Cloud Run forwards it (signature removed)',
      `Bearer ${JWT_A_STRIPPED}`,
      `Bearer ${JWT_A}`,
    ],
    [
      'the same token, with the signature removed in Authorization instead',
      `Bearer ${JWT_A}`,
      `Bearer ${JWT_A_STRIPPED}`,
    ],
    ['the same token under another scheme spelling', `Bearer ${JWT_A}`, `bearer ${JWT_A}`],
    ['the same opaque token', 'Bearer ya29.opaque-token', 'Bearer ya29.opaque-token'],
  ])('refuses %s: one token may not do both jobs', async (_name, platform, authorization) => {
    const error = await refusal([
      `X-Serverless-Authorization: ${platform}`,
      `Authorization: ${authorization}`,
    ]);
    expect(error.reason).toBe('SERVERLESS_AUTHORIZATION_REUSED_AS_CALLER_CREDENTIAL');
  });

  it.each([
    ['empty', ['X-Serverless-Authorization: ']],
    ['another scheme', [`X-Serverless-Authorization: Basic ${JWT_A}`]],
    ['no scheme', [`X-Serverless-Authorization: ${JWT_A}`]],
    ['two tokens in one value', [`X-Serverless-Authorization: Bearer ${JWT_A}, Bearer ${JWT_B}`]],
    ['a token with a space', [`X-Serverless-Authorization: Bearer ${JWT_A} x`]],
    ['too large', [`X-Serverless-Authorization: Bearer ${'a'.repeat(16 * 1024 + 100)}`]],
  ])('refuses a platform header that is %s, before looking at Authorization', async (_name, lines) => {
    const error = await refusal([...lines, `Authorization: Bearer ${JWT_A}`]);
    expect(error.reason).toBe('SERVERLESS_AUTHORIZATION_MALFORMED');
  });

  it('refuses the platform header sent twice, even with the same value', async () => {
    const error = await refusal([
      `X-Serverless-Authorization: Bearer ${JWT_B}`,
      `X-Serverless-Authorization: Bearer ${JWT_B}`,
      `Authorization: Bearer ${JWT_A}`,
    ]);
    expect(error.reason).toBe('SERVERLESS_AUTHORIZATION_REPEATED');
  });

  it('refuses two Authorization headers beside it (Node alone would keep the first)', async () => {
    const error = await refusal([
      `X-Serverless-Authorization: Bearer ${JWT_B}`,
      `Authorization: Bearer ${JWT_A}`,
      `Authorization: Bearer ${JWT_B}`,
    ]);
    expect(error.reason).toBe('CALLER_CREDENTIAL_REPEATED');
  });
});
