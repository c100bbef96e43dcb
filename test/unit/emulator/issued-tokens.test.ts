import { describe, expect, it, vi } from 'vitest';
import { IssuedTokens, PRUNE_ABOVE } from '../../../emulator/state/issued-tokens.js';

const T0 = Date.parse('2026-12-07T12:00:00Z');
const issue = (tokens: IssuedTokens, nowMs: number, lifetimeSeconds = 3600) =>
  tokens.issue({
    email: 'sa@p.iam.gserviceaccount.com',
    scopes: ['s'],
    issuedBy: 'oauth.token',
    nowMs,
    lifetimeSeconds,
  });

describe('IssuedTokens pruning', () => {
  it('drops expired tokens once the registry grows past its threshold', () => {
    const tokens = new IssuedTokens();
    for (let i = 0; i <= PRUNE_ABOVE; i++) issue(tokens, T0, 1);
    const fresh = issue(tokens, T0 + 5_000);
    expect(tokens.list().map((t) => t.value)).toEqual([fresh.value]);
  });

  it('keeps every live token, scanning only when the registry doubled (not on every issue)', () => {
    const tokens = new IssuedTokens();
    const prune = vi.spyOn(tokens as unknown as { pruneExpired(nowMs: number): void }, 'pruneExpired');
    const issued = Array.from({ length: 3 * PRUNE_ABOVE }, (_, i) => issue(tokens, T0 + i));
    expect(issued.every((t) => tokens.active(t.value, T0 + 3 * PRUNE_ABOVE) !== undefined)).toBe(true);
    // Thresholds 10,000 then 20,002: two scans for 30,000 live tokens, where a scan per issue made ~20,000.
    expect(prune).toHaveBeenCalledTimes(2);
  });

  it('starts from the first threshold again after clear()', () => {
    const tokens = new IssuedTokens();
    for (let i = 0; i < 3 * PRUNE_ABOVE; i++) issue(tokens, T0, 1);
    tokens.clear();
    for (let i = 0; i <= PRUNE_ABOVE; i++) issue(tokens, T0, 1);
    const fresh = issue(tokens, T0 + 5_000);
    expect(tokens.list()).toHaveLength(1);
    expect(tokens.list()[0].value).toBe(fresh.value);
  });
});
