/** What the consent handlers need, wired by create-consent-function.ts (tests pass their own). */
import type { OpsLog } from '../../shared/ops-log.js';
import type { GrantStore } from '../../shared/user-grants/grant-store.js';
import type { ConsentConfig } from './consent-config.js';
import type { ConsentKeys } from './consent-keys.js';
import type { IapUser } from './iap-user.js';
import type { TokenFunctionRevoker } from './token-function-revoker.js';

export interface ConsentDeps {
  config: ConsentConfig;
  clientSecret: string;
  keys: ConsentKeys;
  verifyIap(assertion: string | undefined): Promise<IapUser>;
  verifyIdToken(idToken: string, nonce: string): Promise<{ sub: string; email: string }>;
  /** Encrypt-only: `save`, `describe`, `tombstone`. */
  grants: GrantStore;
  revokeThroughTokenFunction: TokenFunctionRevoker;
  log: OpsLog;
  now: () => number;
  fetchImpl?: typeof fetch;
}

/** Whether cookies may go without `Secure`: only an http consent side on localhost (the local stack). */
export function cookiesSecure(config: ConsentConfig): boolean {
  return new URL(config.redirectUri).protocol === 'https:';
}
