/**
 * Bounds the secret derivations in flight. scrypt runs on libuv's thread pool (4 threads by
 * default), which DNS lookups, file reads and WebCrypto signing share: a flood of client
 * authentications must not queue there without limit and starve every other caller's minting,
 * nor hold more than `maxConcurrent` x 32 MiB. Beyond `maxQueued` waiting, a derivation is
 * refused at once (`OverloadedError`) and the client is told to retry.
 */

export interface DerivationLimiterOptions {
  maxConcurrent: number;
  maxQueued: number;
}

export interface DerivationLimiter {
  run<T>(derive: () => Promise<T>): Promise<T>;
}

/** Too many derivations waiting: shed, retry shortly. */
export class OverloadedError extends Error {
  override readonly name = 'OverloadedError';
}

/** Creates a FIFO limiter. Throws `TypeError` on nonsensical options. */
export function createDerivationLimiter(options: DerivationLimiterOptions): DerivationLimiter {
  const { maxConcurrent, maxQueued } = options;
  if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1)
    throw new TypeError('maxConcurrent must be a positive integer');
  if (!Number.isInteger(maxQueued) || maxQueued < 0)
    throw new TypeError('maxQueued must be a non-negative integer');
  let running = 0;
  const waiting: Array<() => void> = [];

  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else running -= 1;
  };

  return {
    async run(derive) {
      if (running >= maxConcurrent) {
        if (waiting.length >= maxQueued) throw new OverloadedError('too many secret derivations waiting');
        // The slot is handed over by release(): `running` stays counted for the next one.
        await new Promise<void>((resolve) => waiting.push(resolve));
      } else {
        running += 1;
      }
      try {
        return await derive();
      } finally {
        release();
      }
    },
  };
}
