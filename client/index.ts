/**
 * The workload client library: credentials from the token vending service for the Google
 * ecosystem, the current Gemini API key from Secret Manager, and friendly errors.
 *
 * ```ts
 * const authClient = new VendedTokenClient({ serviceUrl, targetServiceAccount: 'gemini-caller@p.iam.gserviceaccount.com' });
 * const ai = new GoogleGenAI({ vertexai: true, project, location, googleAuthOptions: { authClient } });
 * const res = await withGeminiRetry(() => ai.models.generateContent({ model, contents: 'Hello' }), { authClient });
 * ```
 */
export {
  VendedTokenClient,
  CLOUD_PLATFORM_SCOPE,
  type VendedTokenClientOptions,
} from './vended-token-client.js';
export { metadataIdTokenSource, type IdTokenSource } from './id-token-source.js';
export {
  GeminiApiKeySource,
  apiKeySecretVersion,
  type GeminiApiKeySourceOptions,
} from './gemini-api-key-source.js';
export { withApiKey, type ApiKeySource } from './with-api-key.js';
export { withGeminiRetry, type GeminiCallOptions } from './with-gemini-retry.js';
export { DEFAULT_RETRY, type ClientRetryOptions } from './retry.js';
export { toFriendlyError, isTransient, isApiKeyInvalid } from './friendly-error.js';
export { InsecureTransportError } from './transport-security.js';
export {
  externalAccountCredentials,
  CredentialsOptionError,
  DEFAULT_GITLAB_TOKEN_FILE,
  DEFAULT_K8S_TOKEN_FILE,
  type ExternalAccountOptions,
  type ExternalAccountCredentials,
  type SubjectTokenSourceName,
} from './external-account.js';
export { stsAudience, STS_AUDIENCE_PREFIX } from '../shared/sts.js';
export {
  ClientError,
  TokenServiceError,
  GeminiError,
  ApiKeySourceError,
  type ClientErrorCode,
  type ClientErrorService,
} from './errors.js';
