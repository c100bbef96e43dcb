/**
 * Runs one Gemini or Vertex AI call (any SDK, e.g. `ai.models.generateContent(...)`) with the
 * client's retry policy: 429/5xx/resets retried with capped backoff and jitter, everything
 * else surfaced at once as a friendly {@link GeminiError}.
 */
import { ClientError } from './errors.js';
import { retryTransient, type ClientRetryOptions } from './retry.js';

export interface GeminiCallOptions {
  retry?: ClientRetryOptions;
  /**
   * The credential used for bearer calls (Vertex AI): on a 401 its cached token is dropped and
   * the call is made once more with a fresh one.
   */
  authClient?: { invalidate(): void };
}

/** See the module comment. */
export async function withGeminiRetry<T>(fn: () => Promise<T>, options: GeminiCallOptions = {}): Promise<T> {
  try {
    return await retryTransient('gemini', () => fn(), options.retry);
  } catch (err) {
    if (options.authClient === undefined || !(err instanceof ClientError) || err.httpStatus !== 401)
      throw err;
    options.authClient.invalidate();
    return retryTransient('gemini', () => fn(), options.retry);
  }
}
