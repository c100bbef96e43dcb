/**
 * What a refused caller can make the token function do (review of issue 19): a caller whose rule
 * names users by email, asking for a user that rule does not cover, is refused after one Firestore
 * read of the grant's record — never a KMS decrypt, never the refresh token opened. A fresh stack,
 * so the token function holds no unwrapped data key that would hide a decrypt.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DRIVE_RO,
  LINUS,
  QUOTA,
  startUserTokenStack,
  type UserTokenStack,
} from '../integration/functions/token/support/user-token-stack.js';

let t: UserTokenStack;

beforeAll(async () => {
  t = await startUserTokenStack();
});
afterAll(async () => {
  await t?.stop();
});

describe('a caller refused by an email rule', () => {
  it('costs one grant read: no KMS decrypt, no refresh at Google', async () => {
    await t.consentAndSave(LINUS, [DRIVE_RO]);
    t.stack.emulator.faults.reset();
    const answers = await Promise.all(
      Array.from({ length: 5 }, () =>
        t.call(QUOTA, `/v1/users/${LINUS.sub}:generateAccessToken`, { scope: [DRIVE_RO] }),
      ),
    );
    for (const answer of answers) {
      expect(answer.status).toBe(403);
      expect(answer.json.error.details[0].reason).toBe('USER_TOKEN_NOT_ALLOWED');
    }
    expect(t.stack.emulator.faults.count('cloudkms.decrypt')).toBe(0);
    expect(t.stack.emulator.faults.count('oauth.token')).toBe(0);
    expect(t.stack.emulator.faults.count('firestore.get')).toBeGreaterThanOrEqual(1);
    expect(t.stack.emulator.faults.count('firestore.get')).toBeLessThanOrEqual(5);
  });
});
