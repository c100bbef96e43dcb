import type { SecretStore } from '../secret-manager/secret-store.js';
import type { ApiKeyRegistry } from './api-keys.js';
import type { FirestoreDocuments } from './firestore-documents.js';
import type { ConsentScript } from './consent-script.js';
import type { GoogleSigningKeys } from './google-signing-keys.js';
import type { IamGrants } from './iam-grants.js';
import type { IapState } from './iap.js';
import type { IssuedTokens } from './issued-tokens.js';
import type { KmsKeyRegistry } from './kms-keys.js';
import type { OAuthClientRegistry } from './oauth-clients.js';
import type { OAuthUserRegistry } from './oauth-users.js';
import type { OperationStore } from './operations.js';
import type { OrgPolicy } from './org-policy.js';
import type { ServiceAccountRegistry } from './service-accounts.js';
import type { UserGrants } from './user-grants.js';

/** Scopes a GCE/Cloud Run workload's attached service account gets by default. */
export const DEFAULT_METADATA_SCOPES: readonly string[] = [
  'https://www.googleapis.com/auth/cloud-platform',
  'https://www.googleapis.com/auth/userinfo.email',
];

/** Identity the emulated metadata server speaks for (switchable at run time). */
export interface MetadataIdentity {
  /** Email of the attached service account; undefined = none attached (token paths 404). */
  defaultServiceAccount: string | undefined;
  /** Scopes of tokens minted without a `scopes=` parameter. */
  defaultScopes: readonly string[];
}

/** Addresses of the emulator's HTTP side. */
export interface EmulatorUrls {
  readonly httpUrl: string;
  /** `${httpUrl}/token` */
  readonly tokenUrl: string;
}

/** Everything the emulated Google remembers, shared by all endpoints (HTTP and gRPC). */
export interface EmulatorState {
  readonly projectId: string;
  readonly projectNumber: string;
  readonly urls: EmulatorUrls;
  readonly serviceAccounts: ServiceAccountRegistry;
  readonly secrets: SecretStore;
  /** Opaque access tokens minted by `/token`, the metadata server, ... */
  readonly tokens: IssuedTokens;
  /** Google's ID-token signing keys (JWKS at `/oauth2/v3/certs`). */
  readonly signingKeys: GoogleSigningKeys;
  readonly metadata: MetadataIdentity;
  /** API Keys v2 keys (also what the Gemini endpoint checks keys against). */
  readonly apiKeys: ApiKeyRegistry;
  /** Long-running operations of API Keys v2 (`GET /v2/operations/...`). */
  readonly operations: OperationStore;
  /** Simulated org policy, e.g. `iam.disableServiceAccountKeyCreation`. */
  readonly orgPolicy: OrgPolicy;
  /** IAM bindings on service accounts and the lifetime-extension org policy (IAM Credentials checks). */
  readonly iam: IamGrants;
  /** Cloud KMS keys (encrypt/decrypt), with their own IAM bindings and call counters. */
  readonly kms: KmsKeyRegistry;
  /** Firestore documents of the `(default)` database (REST get/patch/delete); `raw(path)` for tests. */
  readonly firestore: FirestoreDocuments;
  /** OAuth clients of the project (user-consent flow: `/o/oauth2/v2/auth`, `/token`, `/revoke`). */
  readonly oauthClients: OAuthClientRegistry;
  /** Google accounts that can sign in and consent. */
  readonly oauthUsers: OAuthUserRegistry;
  /** What the consent screen answers next (queued by tests). */
  readonly consent: ConsentScript;
  /** Users' grants to clients, authorization codes and refresh tokens. */
  readonly userGrants: UserGrants;
  /** Identity-Aware Proxy: its ES256 signing keys and the signed-in user (emulator/iap-proxy.ts). */
  readonly iap: IapState;
}
