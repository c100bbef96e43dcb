import { randomUUID } from 'node:crypto';
import { FaultRegistry } from './faults.js';
import { adminRoutes } from './http/admin.js';
import { apiKeysRoutes } from './http/apikeys.js';
import { geminiRoutes } from './http/gemini.js';
import { iamKeysRoutes } from './http/iam-keys.js';
import { issuerRoutes } from './http/issuers.js';
import { createCiIssuers, type CiIssuers } from './issuers/ci-issuers.js';
import { testControlRoutes } from './http/test-control.js';
import { iamCredentialsRoutes } from './http/iam-credentials.js';
import type { HttpDeps } from './http/deps.js';
import { metadataRoutes } from './http/metadata.js';
import { oauthCertsRoutes } from './http/oauth-certs.js';
import { oauthTokenRoutes } from './http/oauth-token.js';
import { oauthTokeninfoRoutes } from './http/oauth-tokeninfo.js';
import { oauthAuthorizeRoutes } from './http/oauth-authorize.js';
import { oauthRevokeRoutes } from './http/oauth-revoke.js';
import { oauthUserinfoRoutes } from './http/oauth-userinfo.js';
import { driveAboutRoutes } from './http/drive-about.js';
import { testControlOAuthRoutes } from './http/test-control-oauth.js';
import { stsRoutes } from './http/sts.js';
import { kmsRoutes } from './http/kms.js';
import { firestoreRoutes } from './http/firestore.js';
import { secretManagerRestRoutes } from './http/secret-manager-rest.js';
import { startRedisEmulator, type RedisEmulator } from './redis/redis-server.js';
import { KmsKeyRegistry } from './state/kms-keys.js';
import { FirestoreDocuments } from './state/firestore-documents.js';
import { storageRoutes } from './http/storage.js';
import { createRequestListener, type Route } from './http/router.js';
import { PubSubPush } from './pubsub-push.js';
import { listenHttp, urlHost, type HttpServerHandle } from './http/server.js';
import { startSecretManagerGrpc } from './secret-manager/grpc-server.js';
import { SecretStore } from './secret-manager/secret-store.js';
import { loadSeed, type Seed, type SeedInput } from './seed.js';
import { ApiKeyRegistry } from './state/api-keys.js';
import { applySeed } from './state/apply-seed.js';
import { DEFAULT_METADATA_SCOPES, type EmulatorState } from './state/emulator-state.js';
import { GoogleSigningKeys } from './state/google-signing-keys.js';
import { IamGrants, seedIamGrants } from './state/iam-grants.js';
import { IssuedTokens } from './state/issued-tokens.js';
import { OperationStore } from './state/operations.js';
import { ConsentScript } from './state/consent-script.js';
import { OAuthClientRegistry } from './state/oauth-clients.js';
import { OAuthUserRegistry } from './state/oauth-users.js';
import { UserGrants } from './state/user-grants.js';
import { IapState } from './state/iap.js';
import { iapRoutes } from './http/iap.js';
import { createOrgPolicy } from './state/org-policy.js';
import { ServiceAccountRegistry } from './state/service-accounts.js';

export { FaultRegistry, type Fault, type FaultRule } from './faults.js';
export type { Seed, SeedInput } from './seed.js';
export type { EmulatorState, MetadataIdentity } from './state/emulator-state.js';
export type {
  CreatedKey,
  KeyState,
  KeyType,
  ServiceAccount,
  ServiceAccountKey,
  ServiceAccountRegistry,
} from './state/service-accounts.js';
export { MAX_USER_MANAGED_KEYS } from './state/service-accounts.js';
export { StateError, type StateErrorCode } from './state/state-error.js';
export type { IssuedAccessToken, IssuedTokens, UserTokenBinding } from './state/issued-tokens.js';
export type { OAuthClient, OAuthClientRegistry } from './state/oauth-clients.js';
export type { OAuthUser, OAuthUserRegistry } from './state/oauth-users.js';
export type { ConsentAnswer, ConsentScript } from './state/consent-script.js';
export type { UserGrant, UserGrants, AuthorizationCode, RefreshTokenRecord } from './state/user-grants.js';
export type { GoogleKeyFile } from './state/key-file.js';
export type { GoogleSigningKeys } from './state/google-signing-keys.js';
export { IAP_ISSUER, type IapState, type IapAssertionRequest } from './state/iap.js';
export { startIapProxy, type IapProxy, type IapProxyOptions } from './iap-proxy.js';
export { IamGrants, TOKEN_CREATOR_ROLE, serviceAccountMember, type IamBinding } from './state/iam-grants.js';
export type { Route, RequestContext } from './http/router.js';
export type { HttpDeps } from './http/deps.js';
export type {
  PubSubPush,
  PushSubscription,
  PushSubscriptionOptions,
  PushAttempt,
  PublishedMessage,
} from './pubsub-push.js';
export type { ApiKeyRegistry } from './state/api-keys.js';
export type { ApiKey, Restrictions as ApiKeyRestrictions } from './state/api-key-model.js';
export type { OrgPolicy } from './state/org-policy.js';
export { KmsKeyRegistry, KMS_ENCRYPTER_DECRYPTER, KMS_PERMISSIONS } from './state/kms-keys.js';
export type {
  FirestoreDocument,
  FirestoreDocuments,
  FirestorePrecondition,
} from './state/firestore-documents.js';
export type { RedisEmulator, RedisData } from './redis/redis-server.js';
export { CI_ISSUER_NAMES, type CiIssuers, type CiIssuerName } from './issuers/ci-issuers.js';
export type { GitHubActionsJob } from './issuers/github-actions.js';
export type { GitLabCiJob } from './issuers/gitlab-ci.js';
export type { KubernetesProjectedToken } from './issuers/kubernetes.js';
export type { OidcIssuer } from './issuers/oidc-issuer.js';

export interface EmulatorOptions {
  /** Seed object or path to a JSON seed; default `emulator/seed/demo.json`. */
  seed?: Seed | SeedInput | string;
  /** Listen address; default `127.0.0.1`. */
  host?: string;
  /** HTTP port; 0 (default) = ephemeral. */
  httpPort?: number;
  /** Secret Manager gRPC port; 0 (default) = ephemeral. */
  grpcPort?: number;
  /** Redis (RESP2) port; 0 (default) = ephemeral. */
  redisPort?: number;
  /** The Redis AUTH string; default a random UUID (Memorystore with AUTH enabled); `null` = no AUTH. */
  redisPassword?: string | null;
}

/** A running emulator. */
export interface Emulator {
  /** e.g. `http://127.0.0.1:43121` */
  httpUrl: string;
  /** `host:port` of Secret Manager gRPC. */
  grpcEndpoint: string;
  /** `${httpUrl}/token` */
  tokenUrl: string;
  /** `${httpUrl}/oauth2/v3/certs` */
  jwksUrl: string;
  /** `${httpUrl}/tokeninfo` */
  tokeninfoUrl: string;
  /** `${httpUrl}/o/oauth2/v2/auth` (Google: `https://accounts.google.com/o/oauth2/v2/auth`) */
  authUrl: string;
  /** `${httpUrl}/revoke` (Google: `https://oauth2.googleapis.com/revoke`) */
  revokeUrl: string;
  /** `${httpUrl}/oauth2/v3/userinfo` */
  userinfoUrl: string;
  /** `${httpUrl}/oauth2/v1/certs`: the signing keys as PEM certificates (google-auth-library's `verifyIdToken`) */
  pemCertsUrl: string;
  /** `${httpUrl}/iap/verify/public_key-jwk` (Google: `https://www.gstatic.com/iap/verify/public_key-jwk`) */
  iapJwksUrl: string;
  /** `host:port` for `GCE_METADATA_HOST`. */
  metadataHost: string;
  projectId: string;
  projectNumber: string;
  faults: FaultRegistry;
  state: EmulatorState;
  /** Pub/Sub push of Secret Manager notifications (subscribe a CloudEvent receiver to a topic). */
  pubsub: PubSubPush;
  /** Emulated OIDC issuers of GitHub Actions, GitLab CI and a Kubernetes cluster (`${httpUrl}/issuers/NAME`). */
  issuers: CiIssuers;
  /** A Memorystore-like Redis (RESP2 subset) on its own port: `redis.url`, `redis.data`, AUTH = `redisPassword`. */
  redis: RedisEmulator;
  /** The AUTH string Redis requires (undefined: none). */
  redisPassword: string | undefined;
  stop(): Promise<void>;
}

/** HTTP route groups, in match order (admin first; it is never counted). */
function httpRoutes(deps: HttpDeps, pubsub: PubSubPush, issuers: CiIssuers): Route[] {
  return [
    ...adminRoutes(deps),
    ...testControlRoutes(deps, pubsub),
    ...testControlOAuthRoutes(deps),
    ...iapRoutes(deps),
    ...issuerRoutes(issuers),
    ...oauthTokenRoutes(deps),
    ...oauthCertsRoutes(deps),
    ...oauthTokeninfoRoutes(deps),
    ...oauthAuthorizeRoutes(deps),
    ...oauthRevokeRoutes(deps),
    ...oauthUserinfoRoutes(deps),
    ...driveAboutRoutes(deps),
    ...metadataRoutes(deps),
    ...iamCredentialsRoutes(deps),
    ...iamKeysRoutes(deps),
    ...apiKeysRoutes(deps),
    ...geminiRoutes(deps),
    ...stsRoutes(deps),
    ...kmsRoutes(deps),
    ...firestoreRoutes(deps),
    ...secretManagerRestRoutes(deps),
    ...storageRoutes(deps),
  ];
}

/**
 * Starts the local Google: HTTP (OAuth for service accounts and users, JWKS, tokeninfo, userinfo,
 * metadata, IAM, KMS, Drive about, admin), Secret Manager gRPC and a Redis.
 */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const seed = await loadSeed(options.seed);
  const host = options.host ?? '127.0.0.1';
  const faults = new FaultRegistry();
  const signingKeysPromise = GoogleSigningKeys.create();
  let http: HttpServerHandle | undefined;
  let grpc: { port: number; stop(): Promise<void> } | undefined;
  let redis: RedisEmulator | undefined;
  const redisPassword = options.redisPassword === null ? undefined : (options.redisPassword ?? randomUUID());
  let issuersPromise: Promise<CiIssuers> | undefined;
  try {
    http = await listenHttp(host, options.httpPort ?? 0);
    // Their keys are generated while the rest of the state is built (they need the URL, nothing else).
    issuersPromise = createCiIssuers(http.url);
    const tokenUrl = `${http.url}/token`;
    const secrets = new SecretStore({ projectId: seed.projectId, projectNumber: seed.projectNumber });
    const tokens = new IssuedTokens();
    const state: EmulatorState = {
      projectId: seed.projectId,
      projectNumber: seed.projectNumber,
      urls: { httpUrl: http.url, tokenUrl },
      serviceAccounts: new ServiceAccountRegistry({ projectId: seed.projectId, tokenUrl }),
      secrets,
      tokens,
      signingKeys: await signingKeysPromise,
      metadata: { defaultServiceAccount: undefined, defaultScopes: DEFAULT_METADATA_SCOPES },
      iam: new IamGrants(),
      apiKeys: new ApiKeyRegistry({ projectNumber: seed.projectNumber }),
      operations: new OperationStore(`operations/akmf.p7-${seed.projectNumber}-`),
      orgPolicy: createOrgPolicy(),
      kms: new KmsKeyRegistry(),
      firestore: new FirestoreDocuments(seed.projectId),
      oauthClients: new OAuthClientRegistry(seed.projectNumber),
      oauthUsers: new OAuthUserRegistry(),
      consent: new ConsentScript(),
      userGrants: new UserGrants(tokens),
      iap: new IapState(),
    };
    await applySeed(state, seed);
    seedIamGrants(state.iam, seed);
    const pubsub = new PubSubPush({ state, faults });
    const issuers = await issuersPromise;
    http.attach(createRequestListener(httpRoutes({ state, faults }, pubsub, issuers), faults));
    const grpcHandle = await startSecretManagerGrpc({
      store: secrets,
      faults,
      host,
      port: options.grpcPort ?? 0,
    });
    grpc = grpcHandle;
    const redisHandle = await startRedisEmulator({
      faults,
      host,
      port: options.redisPort ?? 0,
      password: redisPassword,
    });
    redis = redisHandle;
    const httpHandle = http;
    let stopping: Promise<void> | undefined;
    return {
      httpUrl: http.url,
      grpcEndpoint: `${urlHost(host)}:${grpcHandle.port}`,
      tokenUrl,
      jwksUrl: `${http.url}/oauth2/v3/certs`,
      tokeninfoUrl: `${http.url}/tokeninfo`,
      authUrl: `${http.url}/o/oauth2/v2/auth`,
      revokeUrl: `${http.url}/revoke`,
      userinfoUrl: `${http.url}/oauth2/v3/userinfo`,
      pemCertsUrl: `${http.url}/oauth2/v1/certs`,
      iapJwksUrl: `${http.url}/iap/verify/public_key-jwk`,
      metadataHost: `${urlHost(host)}:${http.port}`,
      projectId: seed.projectId,
      projectNumber: seed.projectNumber,
      faults,
      state,
      pubsub,
      issuers,
      redis: redisHandle,
      redisPassword,
      stop() {
        stopping ??= Promise.all([
          pubsub.stop(),
          httpHandle.stop(),
          grpcHandle.stop(),
          redisHandle.stop(),
        ]).then(() => undefined);
        return stopping;
      },
    };
  } catch (error) {
    await Promise.allSettled([http?.stop(), grpc?.stop(), redis?.stop(), signingKeysPromise, issuersPromise]);
    throw error;
  }
}
