/**
 * Calls Gemini with the current API key so that a rotation never breaks a long-running
 * workload: when Gemini refuses the key (400/403 `API_KEY_INVALID`, i.e. the old key was
 * deleted after its grace period) the key is re-read from Secret Manager once and the call is
 * made once more with the new key. Transient failures are retried as in `withGeminiRetry`.
 */
import { isApiKeyInvalid } from './friendly-error.js';
import { retryTransient, type ClientRetryOptions } from './retry.js';

/** What `withApiKey` needs of a key source (a `GeminiApiKeySource`, or a test double). */
export interface ApiKeySource {
  getKey(): Promise<string>;
  invalidate(): void;
}

/** See the module comment. `fn` receives the key; never log it. */
export async function withApiKey<T>(
  source: ApiKeySource,
  fn: (apiKey: string) => Promise<T>,
  options: { retry?: ClientRetryOptions } = {},
): Promise<T> {
  const key = await source.getKey();
  try {
    return await retryTransient('gemini', () => fn(key), options.retry);
  } catch (err) {
    if (!isApiKeyInvalid(err)) throw err;
    source.invalidate();
    const fresh = await source.getKey();
    // The secret still holds the refused key: re-trying it cannot help.
    if (fresh === key) throw err;
    return retryTransient('gemini', () => fn(fresh), options.retry);
  }
}
