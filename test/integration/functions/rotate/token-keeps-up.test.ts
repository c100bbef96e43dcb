/**
 * The token function keeps serving through a full rotation of the key it uses: requests run
 * without pause while the rotator creates, verifies and promotes a new key, then disables and
 * deletes the old one; not one request fails, and the token function picks the new key up
 * without a restart.
 */
import { GoogleAuth } from 'google-auth-library';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DEFAULT_SEED_PATH } from '../../../../emulator/seed.js';
import { useEmulatorMetadata } from '../../../support/google-env.js';
import { DEMO_BINDINGS, GRACE_MS, startRotationStack, type RotationStack } from './support/rotation-stack.js';

const GEMINI = 'gemini-caller@tvs-local.iam.gserviceaccount.com';
const SECRET = 'projects/tvs-local/secrets/gemini-caller-key';

let t: RotationStack;
let restoreEnv: () => void;

beforeAll(async () => {
  // The demo seed labels its key secrets managed; the binding is the demo's.
  t = await startRotationStack({
    seed: DEFAULT_SEED_PATH,
    bindings: DEMO_BINDINGS,
    keyRefreshIntervalMs: 100,
    // Every request mints on purpose (a fresh audience each time), far past a caller's mint quota
    // and distinct-token cap, which exist to stop exactly that; quotas are not what this tests.
    tokenEnv: { TVS_RATE_LIMITS: 'off' },
  });
  restoreEnv = useEmulatorMetadata(t.stack.emulator.metadataHost);
});

afterAll(async () => {
  restoreEnv?.();
  await t?.stack.stop();
});

async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

it('serves every request while the key it uses is rotated, retired and deleted', async () => {
  const idToken = (await (await new GoogleAuth().getIdTokenClient(t.stack.tokenUrl)).getRequestHeaders()).get(
    'authorization',
  )!;
  let ok = 0;
  const failures: string[] = [];
  let stop = false;
  let n = 0;
  const worker = async (): Promise<void> => {
    while (!stop) {
      // A fresh audience each time: every request mints with the SA key (no cache hit).
      const res = await fetch(`${t.stack.tokenUrl}/v1/projects/-/serviceAccounts/${GEMINI}:generateIdToken`, {
        method: 'POST',
        headers: { authorization: idToken, 'content-type': 'application/json' },
        body: JSON.stringify({ audience: `https://backend-r${++n}.a.run.app` }),
      });
      if (res.status === 200) ok++;
      else failures.push(`${res.status} ${await res.text()}`);
    }
  };
  const workers = Promise.all([worker(), worker(), worker()]);
  const moreRequests = async (what: string) => {
    const target = ok + 15;
    await until(() => ok >= target || failures.length > 0, what);
  };
  try {
    await moreRequests('requests before rotation');
    const oldKey = (await t.stack.token.keys.get(`${SECRET}/versions/current`, GEMINI)).keyId;

    const rotated = await t.stack.rotation.runSweep({ secrets: ['gemini-caller-key'], force: true });
    expect(rotated.secrets[0]).toMatchObject({ outcome: 'rotated', oldKeyId: oldKey });
    const newKey = rotated.secrets[0].newKeyId!;
    await until(
      async () => (await t.stack.token.keys.get(`${SECRET}/versions/current`, GEMINI)).keyId === newKey,
      'the token function to load the new key',
    );
    await moreRequests('requests with the new key');

    t.clock.advance(GRACE_MS + 1);
    expect((await t.stack.rotation.runSweep({ secrets: ['gemini-caller-key'] })).secrets[0]).toMatchObject({
      outcome: 'retired',
    });
    expect(t.stack.emulator.state.serviceAccounts.getKey(GEMINI, oldKey)?.state).toBe('DISABLED');
    await moreRequests('requests after the old key was disabled');

    t.clock.advance(GRACE_MS + 1);
    expect((await t.stack.rotation.runSweep({ secrets: ['gemini-caller-key'] })).secrets[0]).toMatchObject({
      outcome: 'purged',
    });
    expect(t.stack.emulator.state.serviceAccounts.getKey(GEMINI, oldKey)?.state).toBe('DELETED');
    await moreRequests('requests after the old key was deleted');
  } finally {
    stop = true;
    await workers;
  }
  expect(failures).toEqual([]);
  expect(ok).toBeGreaterThanOrEqual(60);
});
