import { ApiError } from '@google/genai';
import { describe, expect, it } from 'vitest';
import { GeminiError, withApiKey, withGeminiRetry, type ApiKeySource } from '../../../client/index.js';

const fastRetry = { baseDelayMs: 0, maxDelayMs: 0, maxAttempts: 3, random: () => 0 };

function apiError(code: number, status: string, reason?: string): ApiError {
  const details = reason
    ? [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason, domain: 'googleapis.com' }]
    : [];
  return new ApiError({
    status: code,
    message: JSON.stringify({ error: { code, message: 'x', status, details } }),
  });
}

function source(keys: string[]): ApiKeySource & { reads: number; invalidations: number } {
  let index = 0;
  const s = {
    reads: 0,
    invalidations: 0,
    getKey() {
      s.reads++;
      return Promise.resolve(keys[Math.min(index, keys.length - 1)]);
    },
    invalidate() {
      s.invalidations++;
      index++;
    },
  };
  return s;
}

describe('withApiKey', () => {
  it.each([400, 403])(
    'on %i API_KEY_INVALID re-reads the key once and retries with the new key',
    async (status) => {
      const keys = source(['old', 'new']);
      const used: string[] = [];
      const result = await withApiKey(
        keys,
        (key) => {
          used.push(key);
          return key === 'old'
            ? Promise.reject(apiError(status, 'INVALID_ARGUMENT', 'API_KEY_INVALID'))
            : Promise.resolve('ok');
        },
        { retry: fastRetry },
      );
      expect(result).toBe('ok');
      expect(used).toEqual(['old', 'new']);
      expect(keys.invalidations).toBe(1);
    },
  );

  it('surfaces API_KEY_INVALID when the secret still holds the refused key', async () => {
    const keys = source(['bad']);
    let calls = 0;
    const err = await withApiKey(
      keys,
      () => {
        calls++;
        return Promise.reject(apiError(400, 'INVALID_ARGUMENT', 'API_KEY_INVALID'));
      },
      { retry: fastRetry },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GeminiError);
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', reason: 'API_KEY_INVALID' });
    expect(calls).toBe(1);
  });

  it('re-reads at most once even if the new key is refused too', async () => {
    const keys = source(['a', 'b', 'c']);
    const used: string[] = [];
    await expect(
      withApiKey(
        keys,
        (key) => {
          used.push(key);
          return Promise.reject(apiError(403, 'PERMISSION_DENIED', 'API_KEY_INVALID'));
        },
        { retry: fastRetry },
      ),
    ).rejects.toMatchObject({ name: 'GeminiError', reason: 'API_KEY_INVALID' });
    expect(used).toEqual(['a', 'b']);
  });

  it('does not re-read the key for other errors', async () => {
    const keys = source(['k']);
    await expect(
      withApiKey(keys, () => Promise.reject(apiError(404, 'NOT_FOUND')), { retry: fastRetry }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(keys.invalidations).toBe(0);
  });

  it('retries 5xx a bounded number of times, then surfaces the last one', async () => {
    let calls = 0;
    const err = await withApiKey(
      source(['k']),
      () => {
        calls++;
        return Promise.reject(apiError(500, 'INTERNAL'));
      },
      { retry: fastRetry },
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'GeminiError', code: 'INTERNAL', httpStatus: 500, attempts: 3 });
    expect(calls).toBe(3);
  });
});

describe('withGeminiRetry', () => {
  it('on a 401 drops the bearer token once and calls again', async () => {
    let invalidated = 0;
    let calls = 0;
    const result = await withGeminiRetry(
      () => (++calls === 1 ? Promise.reject(apiError(401, 'UNAUTHENTICATED')) : Promise.resolve('ok')),
      {
        retry: fastRetry,
        authClient: {
          invalidate: () => {
            invalidated++;
          },
        },
      },
    );
    expect(result).toBe('ok');
    expect(invalidated).toBe(1);
  });

  it('surfaces a second 401 as UNAUTHENTICATED', async () => {
    await expect(
      withGeminiRetry(() => Promise.reject(apiError(401, 'UNAUTHENTICATED')), {
        retry: fastRetry,
        authClient: { invalidate: () => undefined },
      }),
    ).rejects.toMatchObject({ name: 'GeminiError', code: 'UNAUTHENTICATED' });
  });
});
