import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SingleFlight } from '../../../../shared/http/singleflight.js';
import { deferred, drain } from '../../../support/deferred.js';

describe('SingleFlight', () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  beforeEach(() => {
    unhandled.length = 0;
    process.on('unhandledRejection', onUnhandled);
  });
  afterEach(() => {
    process.off('unhandledRejection', onUnhandled);
  });

  it('gives every concurrent caller of one key the same promise and calls fn once', async () => {
    const flights = new SingleFlight<string, number>();
    const gate = deferred<number>();
    const fn = vi.fn(() => gate.promise);

    const callers = Array.from({ length: 1000 }, () => flights.do('k', fn));
    expect(new Set(callers).size).toBe(1);
    expect(fn).toHaveBeenCalledTimes(1);
    expect(flights.inFlight).toBe(1);

    gate.resolve(42);
    expect(await Promise.all(callers)).toEqual(Array(1000).fill(42));
  });

  it('runs flights for different keys independently', async () => {
    const flights = new SingleFlight<string, string>();
    const a = flights.do('a', () => Promise.resolve('A'));
    const b = flights.do('b', () => Promise.resolve('B'));
    expect(a).not.toBe(b);
    expect(flights.inFlight).toBe(2);
    expect(await Promise.all([a, b])).toEqual(['A', 'B']);
  });

  it('clears the entry after success so the next call runs fn again', async () => {
    const flights = new SingleFlight<string, number>();
    let calls = 0;
    const fn = (): Promise<number> => Promise.resolve(++calls);

    expect(await flights.do('k', fn)).toBe(1);
    await drain();
    expect(flights.inFlight).toBe(0);
    expect(flights.has('k')).toBe(false);
    expect(await flights.do('k', fn)).toBe(2);
  });

  it('shares a failure with every waiter, clears the entry, and lets a later call retry', async () => {
    const flights = new SingleFlight<string, string>();
    const gate = deferred<string>();
    const boom = new Error('upstream failed');
    const first = flights.do('k', () => gate.promise);
    const second = flights.do('k', () => Promise.resolve('never called'));

    gate.reject(boom);
    await expect(first).rejects.toBe(boom);
    await expect(second).rejects.toBe(boom);
    await drain();
    expect(flights.inFlight).toBe(0);

    await expect(flights.do('k', () => Promise.resolve('ok'))).resolves.toBe('ok');
    expect(unhandled).toEqual([]);
  });

  it('turns a synchronous throw from fn into a shared rejection and clears the entry', async () => {
    const flights = new SingleFlight<string, string>();
    const boom = new Error('sync');
    const promise = flights.do('k', () => {
      throw boom;
    });
    await expect(promise).rejects.toBe(boom);
    await drain();
    expect(flights.inFlight).toBe(0);
    expect(unhandled).toEqual([]);
  });

  it('makes a later caller start a new flight after forget, without the old flight clearing the new one', async () => {
    const flights = new SingleFlight<string, string>();
    const oldGate = deferred<string>();
    const newGate = deferred<string>();
    const oldFlight = flights.do('k', () => oldGate.promise);

    expect(flights.forget('k')).toBe(true);
    expect(flights.forget('k')).toBe(false);
    const newFlight = flights.do('k', () => newGate.promise);
    expect(newFlight).not.toBe(oldFlight);

    oldGate.resolve('old');
    expect(await oldFlight).toBe('old');
    await drain();
    expect(flights.has('k')).toBe(true);
    expect(flights.do('k', () => Promise.resolve('third'))).toBe(newFlight);

    newGate.resolve('new');
    expect(await newFlight).toBe('new');
  });

  it('stops sharing every flight after forgetAll', async () => {
    const flights = new SingleFlight<string, string>();
    const a = flights.do('a', () => Promise.resolve('a'));
    flights.do('b', () => Promise.resolve('b')).catch(() => undefined);
    flights.forgetAll();
    expect(flights.inFlight).toBe(0);
    expect(flights.do('a', () => Promise.resolve('a2'))).not.toBe(a);
    expect(await a).toBe('a');
  });

  it('counts the flights in progress', async () => {
    const flights = new SingleFlight<number, void>();
    const gates = [deferred<void>(), deferred<void>(), deferred<void>()];
    const promises = gates.map((gate, i) => flights.do(i, () => gate.promise));
    expect(flights.inFlight).toBe(3);

    gates[0].resolve();
    await promises[0];
    await drain();
    expect(flights.inFlight).toBe(2);

    gates[1].reject(new Error('x'));
    await expect(promises[1]).rejects.toThrow('x');
    gates[2].resolve();
    await promises[2];
    await drain();
    expect(flights.inFlight).toBe(0);
  });

  it('rejects a non-function fn with a TypeError', () => {
    const flights = new SingleFlight<string, string>();
    expect(() => flights.do('k', 'nope' as unknown as () => Promise<string>)).toThrow(TypeError);
    expect(flights.inFlight).toBe(0);
  });
});
