/**
 * The stack the rotation fault suite drives: the demo seed (both of its key secrets labelled
 * managed, as Terraform labels them) with the demo rotation binding, the token function serving the SA key the rotator replaces
 * (re-read every 100 ms), the rotator with a settable clock and a hook awaited after every step,
 * and per-kind probes that look at the emulator from outside, so no injected fault reaches them
 * unless they call the faulted endpoint themselves.
 */
import { Writable } from 'node:stream';
import { importPKCS8, SignJWT } from 'jose';
import { KNOWN_MODELS } from '../../../emulator/http/gemini-content.js';
import { verifyJwtBearerAssertion } from '../../../emulator/http/jwt-bearer.js';
import { DEFAULT_SEED_PATH } from '../../../emulator/seed.js';
import type { Step } from '../../../functions/rotate/report.js';
import { parseRotationState, type RotationState } from '../../../functions/rotate/state.js';
import { startLocalStack, type LocalStack } from '../../../scripts/local-stack.js';
import { DEMO_BINDINGS, GRACE_MS } from '../../integration/functions/rotate/support/rotation-stack.js';

export { GRACE_MS };
export const GEMINI = 'gemini-caller@tvs-local.iam.gserviceaccount.com';
export const WORKLOAD = 'workload@tvs-local.iam.gserviceaccount.com';
const CP = 'https://www.googleapis.com/auth/cloud-platform';

export type KindName = 'sa-key' | 'api-key';

/** One managed secret and how to tell, from outside, what it holds. */
export interface ManagedSecret {
  kind: KindName;
  /** Secret id, as a sweep request names it. */
  id: string;
  name: string;
  /** Keys of the rotated identity that are not deleted (SA: user-managed keys; API: live API keys). */
  liveKeys(): string[];
  /** The key id in the version `current` names. */
  currentKeyId(): string | undefined;
  /**
   * Why the credential in `current` does not work, or undefined when it does. SA key: its key file
   * mints an access token at the emulator's token endpoint (`inProcess`: through the endpoint's own
   * verification, when a fault is injected on the endpoint itself); API key: Gemini accepts it.
   */
  currentProblem(options?: { inProcess?: boolean }): Promise<string | undefined>;
  /** Versions in state ENABLED. */
  enabledVersions(): number[];
  aliases(): Record<string, number>;
  state(): RotationState;
}

export interface RotationFaultStack {
  stack: LocalStack;
  secrets: Record<KindName, ManagedSecret>;
  clock: { now(): number; advance(ms: number): void };
  /** Sets the hook awaited after every step of every run (the run waits for it, as for a slow step). */
  onStep(hook: ((step: Step, secretId: string) => Promise<void>) | undefined): void;
  /** POSTs to the `rotate` HTTP trigger. */
  post(body: unknown): Promise<{ status: number; json: any }>;
  /** A Google ID token of the demo workload for the token function. */
  callerToken(): Promise<string>;
  stop(): Promise<void>;
}

export async function startRotationFaultStack(): Promise<RotationFaultStack> {
  let nowMs = Date.now();
  let hook: ((step: Step, secretId: string) => Promise<void>) | undefined;
  const stack = await startLocalStack({
    emulator: { seed: DEFAULT_SEED_PATH },
    opsLogWrite: () => undefined,
    auditTransport: new Writable({ write: (_chunk, _encoding, done) => done() }),
    keyRefreshIntervalMs: 100,
    // The load mints on every request on purpose (a fresh audience each time), which a caller's
    // mint quota and distinct-token cap exist to stop; quotas are not what this suite tests.
    env: { TVS_RATE_LIMITS: 'off' },
    rotateEnv: {
      TVS_ROTATION_BINDINGS: JSON.stringify(DEMO_BINDINGS),
      TVS_ROTATION_VERIFY_DEADLINE_MS: '2500',
      TVS_UPSTREAM_DEADLINE_MS: '4000',
    },
    rotate: { now: () => nowMs, afterStep: (step, secretId) => hook?.(step, secretId) },
  });
  const emu = stack.emulator.state;
  const common = (id: string) => {
    const name = `projects/tvs-local/secrets/${id}`;
    return {
      id,
      name,
      current: () => emu.secrets.accessVersion(`${name}/versions/current`).data.toString('utf8'),
      enabledVersions: () =>
        emu.secrets
          .listVersions(name)
          .items.filter((v) => v.state === 'ENABLED')
          .map((v) => v.version),
      aliases: () => ({ ...emu.secrets.getSecret(name).versionAliases }),
      state: () => parseRotationState(emu.secrets.getSecret(name).annotations),
    };
  };
  const sa = common('gemini-caller-key');
  const api = common('gemini-api-key');
  const problem = (err: unknown) => `current unreadable: ${(err as Error).message}`;

  const secrets: Record<KindName, ManagedSecret> = {
    'sa-key': {
      kind: 'sa-key',
      ...sa,
      liveKeys: () =>
        emu.serviceAccounts
          .listKeys(GEMINI, { keyTypes: ['USER_MANAGED'] })
          .map((k) => k.keyId)
          .sort(),
      currentKeyId: () => (JSON.parse(sa.current()) as { private_key_id: string }).private_key_id,
      async currentProblem({ inProcess = false } = {}) {
        let keyFile: { private_key: string; private_key_id: string; client_email: string; token_uri: string };
        try {
          keyFile = JSON.parse(sa.current());
        } catch (err) {
          return problem(err);
        }
        const now = Math.floor(Date.now() / 1000);
        const assertion = await new SignJWT({ scope: CP })
          .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: keyFile.private_key_id })
          .setIssuer(keyFile.client_email)
          .setAudience(keyFile.token_uri)
          .setIssuedAt(now)
          .setExpirationTime(now + 600)
          .sign(await importPKCS8(keyFile.private_key, 'RS256'));
        if (inProcess) {
          const grant = await verifyJwtBearerAssertion(
            { serviceAccounts: emu.serviceAccounts, tokenUrl: emu.urls.tokenUrl },
            assertion,
          );
          return grant.ok ? undefined : `key ${keyFile.private_key_id} refused: ${grant.error}`;
        }
        const res = await fetch(keyFile.token_uri, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }),
        });
        const body = (await res.json()) as { access_token?: string; error?: string };
        return res.status === 200 && body.access_token
          ? undefined
          : `key ${keyFile.private_key_id} refused: ${res.status} ${body.error ?? ''}`;
      },
    },
    'api-key': {
      kind: 'api-key',
      ...api,
      liveKeys: () =>
        emu.apiKeys
          .list()
          .map((k) => k.keyId)
          .sort(),
      currentKeyId: () => emu.apiKeys.lookup(api.current())?.keyId,
      async currentProblem() {
        let keyString: string;
        try {
          keyString = api.current();
        } catch (err) {
          return problem(err);
        }
        // models.get, not models.list: the rotator verifies with models.list, which scenarios fault.
        const res = await fetch(`${stack.emulator.httpUrl}/v1beta/models/${KNOWN_MODELS[0]}`, {
          headers: { 'x-goog-api-key': keyString },
        });
        return res.status === 200 ? undefined : `Gemini refused the current API key: ${res.status}`;
      },
    },
  };

  return {
    stack,
    secrets,
    clock: {
      now: () => nowMs,
      advance: (ms) => {
        nowMs += ms;
      },
    },
    onStep: (next) => {
      hook = next;
    },
    async post(body) {
      const res = await fetch(stack.rotateUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: await stack.rotateAuthorization() },
        body: JSON.stringify(body),
      });
      return { status: res.status, json: await res.json() };
    },
    callerToken() {
      const account = emu.serviceAccounts.get(WORKLOAD)!;
      return emu.signingKeys.signIdToken({
        audience: stack.tokenUrl,
        subject: { email: WORKLOAD, uniqueId: account.uniqueId },
      });
    },
    stop: () => stack.stop(),
  };
}

/** Token requests in a loop (each with a fresh audience, so each one mints with the SA key). */
export interface TokenLoad {
  ok(): number;
  failures(): string[];
  stop(): Promise<void>;
}

export function startTokenLoad(t: RotationFaultStack, workers = 3): TokenLoad {
  let ok = 0;
  let n = 0;
  let stopped = false;
  const failures: string[] = [];
  const url = `${t.stack.tokenUrl}/v1/projects/-/serviceAccounts/${GEMINI}:generateIdToken`;
  const worker = async (): Promise<void> => {
    const authorization = `Bearer ${await t.callerToken()}`;
    while (!stopped) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json' },
        body: JSON.stringify({ audience: `https://backend-f${++n}.a.run.app` }),
      });
      if (res.status === 200) {
        await res.arrayBuffer();
        ok++;
      } else {
        failures.push(`${res.status} ${(await res.text()).slice(0, 200)}`);
      }
    }
  };
  const running = Promise.all(Array.from({ length: workers }, worker));
  return {
    ok: () => ok,
    failures: () => [...failures],
    async stop() {
      stopped = true;
      await running;
    },
  };
}

/** Polls `condition` (20 ms apart) until it holds; throws after `timeoutMs`. */
export async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
