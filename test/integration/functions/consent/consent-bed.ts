/**
 * A consent function on the emulator, for tests: the emulator, the function behind the emulated
 * IAP (scripts/consent-stack.ts), every log line captured, and a stand-in for the token function's
 * `revokeGrant` that records each call and verifies its Google ID token with a stock
 * google-auth-library OAuth2Client against the emulator's certificates. A small browser-less
 * client follows the flow with real fetch, keeping the one cookie the consent side sets.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OAuth2Client } from 'google-auth-library';
import { startEmulator, type Emulator } from '../../../../emulator/index.js';
import {
  startConsentStack,
  type ConsentStack,
  type ConsentStackOptions,
} from '../../../../scripts/consent-stack.js';
import { createCapture, type Capture } from '../../../support/capture.js';
import { useEmulatorMetadata } from '../../../support/google-env.js';

export const ADA = { email: 'ada@example.com', sub: '110248495921238986420' };
export const GRACE = { email: 'grace@example.com', sub: '117350918440571250137' };
export const DRIVE = 'https://www.googleapis.com/auth/drive.readonly';
export const RETRIEVER = 'https://www.googleapis.com/auth/generative-language.retriever';

export interface RevokeCall {
  path: string;
  body: unknown;
  /** The verified ID token's payload (null when it did not verify). */
  caller: Record<string, unknown> | null;
}

export interface TokenFunctionStub {
  url: string;
  calls: RevokeCall[];
  /** 'ok' answers 200 revoked; 'google-down' 200 revoked here only (revokedAtGoogle false); 'fail' answers 503; 'fail-once' 503 then 'ok'; 'down' resets the connection. */
  mode: 'ok' | 'google-down' | 'fail' | 'fail-once' | 'down';
  /** What the stand-in does for an accepted call (default nothing), e.g. tombstone the grant as the real one would. */
  onRevoke?: (sub: string) => Promise<void>;
  stop(): Promise<void>;
}

export async function startTokenFunctionStub(emulator: Emulator): Promise<TokenFunctionStub> {
  const verifier = new OAuth2Client({
    endpoints: {
      oauth2FederatedSignonPemCertsUrl: emulator.pemCertsUrl,
      oauth2FederatedSignonJwkCertsUrl: emulator.jwksUrl,
    },
  });
  let url = '';
  const stub: TokenFunctionStub = {
    url: '',
    calls: [],
    mode: 'ok',
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server: Server = createServer((req, res) => {
    if (stub.mode === 'down') return void req.socket.destroy();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
        let caller: Record<string, unknown> | null = null;
        try {
          caller = (
            await verifier.verifyIdToken({ idToken: token ?? '', audience: url })
          ).getPayload() as never;
        } catch {
          caller = null;
        }
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null') as unknown;
        stub.calls.push({ path: req.url ?? '', body, caller });
        const sub = /^\/v1\/users\/(\d+):revokeGrant$/.exec(req.url ?? '')?.[1];
        const failOnce = stub.mode === 'fail-once';
        if (failOnce) stub.mode = 'ok';
        const refused = stub.mode === 'fail' || failOnce || !caller || !sub;
        if (!refused) await stub.onRevoke?.(sub);
        const [status, answer] = refused
          ? [503, { error: { code: 503, status: 'UNAVAILABLE', message: 'unavailable' } }]
          : [200, { sub, revoked: true, revokedAtGoogle: stub.mode !== 'google-down' }];
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer));
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  stub.url = url;
  return stub;
}

export interface ConsentBed {
  emulator: Emulator;
  stack: ConsentStack;
  tokenFunction: TokenFunctionStub;
  log: Capture;
  stop(): Promise<void>;
}

export async function startConsentBed(
  options: Partial<Pick<ConsentStackOptions, 'env' | 'encryptOnlyIdentity'>> & {
    now?: () => number;
  } = {},
): Promise<ConsentBed> {
  const emulator = await startEmulator();
  const restoreEnv = useEmulatorMetadata(emulator.metadataHost);
  const tokenFunction = await startTokenFunctionStub(emulator);
  const log = createCapture();
  const stack = await startConsentStack({
    emulator,
    tokenFunctionUrl: tokenFunction.url,
    encryptOnlyIdentity: options.encryptOnlyIdentity ?? true,
    ...(options.env ? { env: options.env } : {}),
    overrides: { opsLogWrite: log.write, ...(options.now ? { now: options.now } : {}) },
  });
  return {
    emulator,
    stack,
    tokenFunction,
    log,
    async stop() {
      await stack.stop();
      await tokenFunction.stop();
      await emulator.stop();
      restoreEnv();
    },
  };
}

/** A browser without a browser: manual redirects, the consent cookie kept. */
export class Session {
  cookie: string | undefined;

  async get(url: string, headers: Record<string, string> = {}): Promise<Response> {
    const res = await fetch(url, {
      redirect: 'manual',
      headers: { ...(this.cookie ? { cookie: this.cookie } : {}), ...headers },
    });
    this.keep(res);
    return res;
  }

  async postForm(
    url: string,
    form: Record<string, string>,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    const res = await fetch(url, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...(this.cookie ? { cookie: this.cookie } : {}),
        ...headers,
      },
      body: new URLSearchParams(form).toString(),
    });
    this.keep(res);
    return res;
  }

  private keep(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      if (/Max-Age=0/i.test(line)) this.cookie = undefined;
      else this.cookie = pair;
    }
  }
}

export async function iapLogin(emulator: Emulator, user: string): Promise<void> {
  const res = await fetch(`${emulator.httpUrl}/__admin/iap/login`, {
    method: 'POST',
    body: JSON.stringify({ user }),
  });
  if (res.status !== 200) throw new Error(`IAP login failed: ${res.status}`);
}

export async function queueConsent(
  emulator: Emulator,
  answer: { user: string; decision: 'approve' | 'deny'; clientId: string; scopes?: string[] },
): Promise<void> {
  const res = await fetch(`${emulator.httpUrl}/__admin/oauth/consent`, {
    method: 'POST',
    body: JSON.stringify(answer),
  });
  if (res.status !== 204) throw new Error(`consent script failed: ${res.status}`);
}

/** Start → Google (emulated) → back at the callback URL, not yet followed. */
export async function startAndAuthorize(
  bed: ConsentBed,
  session: Session,
  options: { user: string; scopes: string[]; returnTo?: string; decision?: 'approve' | 'deny' },
): Promise<{ callbackUrl: URL }> {
  const start = new URL(`${bed.stack.url}/v1/consent/start`);
  start.searchParams.set('scopes', options.scopes.join(' '));
  if (options.returnTo !== undefined) start.searchParams.set('return_to', options.returnTo);
  const res = await session.get(start.toString());
  if (res.status !== 302) throw new Error(`start answered ${res.status}: ${await res.text()}`);
  await queueConsent(bed.emulator, {
    user: options.user,
    decision: options.decision ?? 'approve',
    clientId: bed.stack.clientId,
  });
  const google = await session.get(res.headers.get('location')!);
  if (google.status !== 302) throw new Error(`authorize answered ${google.status}: ${await google.text()}`);
  return { callbackUrl: new URL(google.headers.get('location')!) };
}
