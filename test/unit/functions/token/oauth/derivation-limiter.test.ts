import { describe, expect, it } from 'vitest';
import {
  createDerivationLimiter,
  OverloadedError,
} from '../../../../../functions/token/oauth/derivation-limiter.js';
import { deferred, drain } from '../../../../support/deferred.js';

describe('createDerivationLimiter', () => {
  it('runs at most maxConcurrent derivations at once, the rest in order', async () => {
    const limiter = createDerivationLimiter({ maxConcurrent: 2, maxQueued: 10 });
    const gates = Array.from({ length: 4 }, () => deferred<void>());
    const started: number[] = [];
    const runs = gates.map((g, i) =>
      limiter.run(async () => {
        started.push(i);
        await g.promise;
        return i;
      }),
    );
    await drain();
    expect(started).toEqual([0, 1]);
    gates[1].resolve();
    await drain();
    expect(started).toEqual([0, 1, 2]);
    gates[0].resolve();
    gates[2].resolve();
    gates[3].resolve();
    expect(await Promise.all(runs)).toEqual([0, 1, 2, 3]);
    expect(started).toEqual([0, 1, 2, 3]);
  });

  it('refuses at once, without running it, a derivation beyond the queue', async () => {
    const limiter = createDerivationLimiter({ maxConcurrent: 1, maxQueued: 1 });
    const gate = deferred<void>();
    let ran = 0;
    const first = limiter.run(async () => {
      ran += 1;
      await gate.promise;
    });
    const queued = limiter.run(() => {
      ran += 1;
      return Promise.resolve();
    });
    const refused = limiter.run(() => {
      ran += 1;
      return Promise.resolve();
    });
    await expect(refused).rejects.toBeInstanceOf(OverloadedError);
    await expect(refused).rejects.toMatchObject({
      name: 'OverloadedError',
      message: 'too many secret derivations waiting',
    });
    gate.resolve();
    await Promise.all([first, queued]);
    expect(ran).toBe(2);
  });

  it('frees the slot when a derivation fails', async () => {
    const limiter = createDerivationLimiter({ maxConcurrent: 1, maxQueued: 0 });
    await expect(limiter.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await limiter.run(() => Promise.resolve('next'))).toBe('next');
  });

  it('refuses nonsensical options', () => {
    expect(() => createDerivationLimiter({ maxConcurrent: 0, maxQueued: 1 })).toThrow(
      new TypeError('maxConcurrent must be a positive integer'),
    );
    expect(() => createDerivationLimiter({ maxConcurrent: 1, maxQueued: -1 })).toThrow(
      new TypeError('maxQueued must be a non-negative integer'),
    );
  });
});
