/**
 * A real browser (headless Chromium driven by playwright-core) through the consent flow: the
 * emulated IAP → the grant page → "Continue to Google" → the emulated authorization endpoint (its
 * answer scripted through test control) → the callback → the page lists the scopes → "Revoke" →
 * the page shows the grant revoked. Skipped, saying why, where /usr/bin/chromium is absent.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFirestoreGrantStore } from '../../../../shared/user-grants/grant-store.js';
import { applicationDefaultCredential } from '../../../../shared/minting/own-credential.js';
import {
  ADA,
  DRIVE,
  RETRIEVER,
  iapLogin,
  queueConsent,
  startConsentBed,
  type ConsentBed,
} from './consent-bed.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);

describe.skipIf(!hasChromium)(
  `the consent page in headless Chromium (needs ${CHROMIUM}: apt-get install -y chromium)`,
  () => {
    let bed: ConsentBed;
    let browser: Browser;

    beforeAll(async () => {
      bed = await startConsentBed();
      // The stand-in token function tombstones the grant as the real one does after revoking at Google.
      const grants = createFirestoreGrantStore({
        firestoreUrl: bed.emulator.httpUrl,
        projectId: bed.emulator.projectId,
        credential: applicationDefaultCredential({ projectId: bed.emulator.projectId }),
        kms: { url: bed.emulator.httpUrl, keyName: bed.stack.kmsKey },
        encryptOnly: true,
      });
      bed.tokenFunction.onRevoke = async (sub) => {
        await grants.tombstone(bed.stack.clientId, sub, 'USER');
      };
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
    });

    afterAll(async () => {
      await browser?.close();
      await bed?.stop();
    });

    it('consents, shows the scopes, revokes and shows the grant revoked', async () => {
      await iapLogin(bed.emulator, ADA.email);
      const page = await browser.newPage();
      page.setDefaultTimeout(8_000);
      await page.goto(`${bed.stack.url}/v1/consent`);
      await expect(page.locator('#user').textContent()).resolves.toBe(ADA.email);
      await expect(page.locator('#state').textContent()).resolves.toContain('have not granted');

      // At Google (emulated), ada approves drive.readonly only.
      await queueConsent(bed.emulator, {
        user: ADA.email,
        decision: 'approve',
        clientId: bed.stack.clientId,
        scopes: [DRIVE],
      });
      await page.click('#grant');
      await page.waitForURL(`${bed.stack.url}/v1/consent?notice=granted`);
      await expect(page.locator('#notice').textContent()).resolves.toBe('Access granted and stored.');
      const scopes = await page.locator('#scopes li').allTextContents();
      expect(scopes).toContain(DRIVE);
      expect(scopes).not.toContain(RETRIEVER);
      // The flow cookie is gone once the callback is done.
      expect((await page.context().cookies()).map((c) => c.name)).not.toContain('tvs_consent_state');

      await page.click('#revoke');
      await page.waitForURL(`${bed.stack.url}/v1/consent?notice=revoked`);
      await expect(page.locator('#state').textContent()).resolves.toContain('Revoked');
      await expect(page.locator('#revoke').count()).resolves.toBe(0);
      expect(bed.tokenFunction.calls.map((c) => c.path)).toEqual([`/v1/users/${ADA.sub}:revokeGrant`]);
      expect(bed.emulator.state.kms.calls(bed.stack.kmsKey).decrypt).toBe(0);
    });
  },
);
