/**
 * The local status page in a real headless browser (Debian's chromium, driven by playwright-core):
 * the local stack with its audit/ops lines teed into the aggregator exactly as `npm start` does,
 * a cache miss, two hits, a denial and a forced rotation, then the page must show those numbers,
 * with no console error and no CSP violation. Skips, visibly, where chromium is absent.
 */
import { existsSync } from 'node:fs';
import { GoogleAuth } from 'google-auth-library';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRotationState } from '../../../functions/rotate/state.js';
import { loadRotateConfig } from '../../../shared/rotate-config.js';
import { localRotateEnv, startLocalStack, type LocalStack } from '../../../scripts/local-stack.js';
import { StatusAggregator } from '../../../scripts/status/aggregator.js';
import { createStatusTee, emulatorRotationState } from '../../../scripts/status/index.js';
import { startStatusServer, type StatusServer } from '../../../scripts/status/server.js';
import { createCapture, type Capture } from '../../support/capture.js';
import { useEmulatorMetadata } from '../../support/google-env.js';

const CHROMIUM = process.env.TVS_CHROMIUM ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM)
  console.warn(`status-page test SKIPPED: no ${CHROMIUM} (apt-get install -y chromium, or set TVS_CHROMIUM)`);
/** The flags that work on this machine kind (closed network, root): see docs. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const GEMINI = 'gemini-caller@tvs-local.iam.gserviceaccount.com';
const NOT_IN_POLICY = 'nobody@tvs-local.iam.gserviceaccount.com';
const CP = 'https://www.googleapis.com/auth/cloud-platform';
const SECRET = 'projects/tvs-local/secrets/gemini-caller-key';

describe.skipIf(!HAVE_CHROMIUM)(
  `status page in headless chromium (needs ${CHROMIUM}: apt-get install chromium)`,
  () => {
    const t0 = Date.now();
    const clock = () => t0;
    let stack: LocalStack;
    let status: StatusServer;
    let browser: Browser;
    let audit: Capture;
    let ops: Capture;
    let restoreEnv: () => void;

    beforeAll(async () => {
      audit = createCapture();
      ops = createCapture();
      const tee = createStatusTee(audit.write, ops.write, new StatusAggregator(clock));
      stack = await startLocalStack({
        auditTransport: tee.auditTransport,
        opsLogWrite: tee.opsLogWrite,
        rotate: { now: clock },
      });
      restoreEnv = useEmulatorMetadata(stack.emulator.metadataHost);
      const bindings = loadRotateConfig(localRotateEnv(stack.emulator, stack.rotateUrl)).bindings;
      status = await startStatusServer({
        aggregator: tee.aggregator,
        rotationState: emulatorRotationState(stack.emulator, bindings),
      });
      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
    });

    afterAll(async () => {
      await browser?.close();
      await status?.stop();
      restoreEnv?.();
      await stack?.stop();
    });

    async function accessToken(sa: string, idToken: string): Promise<number | string> {
      const res = await fetch(`${stack.tokenUrl}/v1/projects/-/serviceAccounts/${sa}:generateAccessToken`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${idToken}` },
        body: JSON.stringify({ scope: [CP], lifetime: '3600s' }),
      });
      const body = await res.text();
      // The body names the reason when the status is not the one expected (no token on errors).
      return res.status >= 400 ? `${res.status} ${body}` : res.status;
    }

    it('shows decisions by reason, hit ratio, mint latency and the rotated secret, live, with no console error', async () => {
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
      page.on('requestfailed', (r) => problems.push(`requestfailed: ${r.url()}`));
      await page.addInitScript(() => {
        document.addEventListener('securitypolicyviolation', (e) => {
          console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
        });
      });
      const res = await page.goto(status.url);
      expect(res?.status()).toBe(200);
      expect(res?.headers()['content-security-policy']).toContain("default-src 'none'");
      // Loaded before anything happened: the page is live, it must pick the numbers up by polling.
      await page.waitForFunction(() => document.getElementById('updated')?.textContent !== 'never');
      expect(await page.textContent('#hits')).toBe('0');

      const client = await new GoogleAuth().getIdTokenClient(stack.tokenUrl);
      const idToken = ((await client.getRequestHeaders()).get('authorization') ?? '').replace(/^Bearer /, '');
      expect(await accessToken(GEMINI, idToken)).toBe(200); // miss: mints
      expect(await accessToken(GEMINI, idToken)).toBe(200); // hit
      expect(await accessToken(GEMINI, idToken)).toBe(200); // hit
      expect(String(await accessToken(NOT_IN_POLICY, idToken))).toMatch(/^403 /); // denied
      const report = await stack.rotation.runSweep({ secrets: ['gemini-caller-key'], force: true });
      await Promise.all([stack.token.flushAudit(), stack.rotation.flushAudit()]);

      const entries = audit.entries().filter((e) => typeof e.decision === 'string' && e.action !== undefined);
      const tokenEntries = entries.filter((e) => e.action === 'generateAccessToken');
      expect(tokenEntries.map((e) => [e.decision, e.cacheHit ?? null])).toEqual([
        ['granted', false],
        ['granted', true],
        ['granted', true],
        ['denied', null], // refused before the cache
      ]);
      const denial = tokenEntries[3];
      const miss = tokenEntries[0];
      const backend: string = miss.mint?.backend ?? miss.target.backend;

      await page.waitForFunction(
        ([secret]) => {
          const rows = Array.from(document.querySelectorAll('#rotation tbody tr')).map(
            (r) => r.textContent ?? '',
          );
          return (
            document.getElementById('hits')?.textContent === '2' &&
            document.querySelectorAll('#latency tbody tr').length > 0 &&
            rows.some((r) => r.includes(secret) && !r.includes('unknown'))
          );
        },
        ['/secrets/gemini-caller-key'],
      );

      const table = async (id: string) =>
        page.$$eval(`#${id} tbody tr`, (rows) =>
          rows.map((r) => Array.from(r.querySelectorAll('td')).map((c) => c.textContent ?? '')),
        );
      // Decisions by reason: every token decision the audit log holds, counted once (the rotator's too).
      const expected = new Map<string, number>();
      for (const e of entries)
        expected.set(`${e.decision}|${e.reason}`, (expected.get(`${e.decision}|${e.reason}`) ?? 0) + 1);
      const shown = new Map((await table('decisions')).map(([d, r, c]) => [`${d}|${r}`, Number(c)]));
      expect(shown).toEqual(expected);
      expect(shown.get(`denied|${denial.reason}`)).toBe(1);
      expect(await page.textContent('#hit-ratio')).toBe('66.7 %');
      expect(await page.textContent('#misses')).toBe('1');

      const latency = await table('latency');
      expect(latency.map((r) => [r[0], r[1]])).toEqual([[backend, '1']]);
      const ms: number = miss.mint?.latencyMs ?? miss.latencyMs;
      expect(latency[0].slice(2).map(Number)).toEqual([ms, ms, ms]);

      // The forced rotation, next due one period after it. Where the rotator writes `rotation_health`
      // lines (issue 16's contract), the row is that line's; before, the state it keeps in annotations.
      expect(report.secrets[0].outcome).toBeDefined();
      const state = parseRotationState(stack.emulator.state.secrets.getSecret(SECRET).annotations);
      expect(state.rotatedAtMs).toBe(t0);
      const health = ops
        .entries()
        .filter(
          (e) => e.event === 'rotation_health' && String(e.secret).endsWith('/secrets/gemini-caller-key'),
        )
        .at(-1);
      const rows = await table('rotation');
      const row = rows.find((r) => r[0] === (health?.secret ?? SECRET));
      expect(row, JSON.stringify(rows)).toBeDefined();
      expect(row![1]).toBe('sa-key');
      if (health)
        expect([row![2], row![3], row![5]]).toEqual([health.outcome, health.phase, 'rotation_health']);
      else expect([row![3], row![5]]).toEqual([state.phase, 'state']);
      expect(row![4]).toBe(new Date(t0 + 2_592_000_000).toISOString());

      // Nothing secret on the page: no token, no caller identity token, no key material.
      const html = await page.content();
      expect(html).not.toContain(idToken);
      expect(html).not.toContain('ya29.');
      expect(html).not.toContain('PRIVATE KEY');
      for (const e of entries) if (e.tokenFingerprint) expect(html).not.toContain(e.tokenFingerprint);

      expect(problems).toEqual([]);
      await page.close();
    });
  },
);
