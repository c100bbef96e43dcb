/**
 * Wires the consent function from configuration: the OAuth client secret (Secret Manager, read
 * once at cold start), the keys derived from it, the IAP and ID-token verifiers, the encrypt-only
 * grant store, the token function client. Used by `index.ts`, the local stack and the tests alike.
 */
import { createRestSecretAccessor } from '../../shared/gcp/secret-manager-rest.js';
import { applicationDefaultCredential } from '../../shared/minting/own-credential.js';
import { createOpsLog } from '../../shared/ops-log.js';
import { createFirestoreGrantStore } from '../../shared/user-grants/grant-store.js';
import { createConsentHandler, type ConsentHandler } from './app.js';
import type { ConsentConfig } from './consent-config.js';
import type { ConsentDeps } from './consent-deps.js';
import { deriveConsentKeys } from './consent-keys.js';
import { createIapVerifier } from './iap-user.js';
import { createIdTokenVerifier } from './id-token.js';
import { createTokenFunctionRevoker } from './token-function-revoker.js';

export interface ConsentFunction {
  handler: ConsentHandler;
}

export interface ConsentFunctionOverrides {
  /** Where operational log lines go (default: stderr). */
  opsLogWrite?: (line: string) => void;
  /** The clock of flow cookies, CSRF tokens and grant timestamps (not of IAP assertions). */
  now?: () => number;
  /** Replaces single dependencies (tests). */
  deps?: Partial<ConsentDeps>;
}

export async function createConsentFunction(
  config: ConsentConfig,
  overrides: ConsentFunctionOverrides = {},
): Promise<ConsentFunction> {
  const log = createOpsLog('consent', overrides.opsLogWrite);
  const now = overrides.now ?? Date.now;
  // The consent identity (ADC): Secret Manager (the client secret), Firestore, KMS encrypt.
  const credential = applicationDefaultCredential({ projectId: config.projectId });
  const secrets = createRestSecretAccessor({ endpoint: config.secretManagerEndpoint, credential });
  const clientSecret = (await secrets.access(config.clientSecretVersion)).data.toString('utf8');
  if (clientSecret === '') throw new Error('the OAuth client secret is empty');
  const deps: ConsentDeps = {
    config,
    clientSecret,
    keys: deriveConsentKeys(clientSecret),
    // IAP's assertions are checked against the real clock (they are minted by IAP in real time).
    verifyIap: createIapVerifier({ jwksUrl: config.iapJwksUrl, audience: config.iapAudience }),
    verifyIdToken: createIdTokenVerifier({ jwksUrl: config.googleJwksUrl, clientId: config.clientId }),
    grants: createFirestoreGrantStore({
      firestoreUrl: config.firestoreUrl,
      projectId: config.projectId,
      databaseId: config.grantsDatabase,
      credential,
      kms: { url: config.kmsUrl, keyName: config.kmsKey },
      encryptOnly: true,
      log,
      now,
    }),
    revokeThroughTokenFunction: createTokenFunctionRevoker({ tokenFunctionUrl: config.tokenFunctionUrl }),
    log,
    now,
    ...overrides.deps,
  };
  return { handler: createConsentHandler(deps) };
}
