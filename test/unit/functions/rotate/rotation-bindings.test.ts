import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../../shared/config.js';
import { loadRotateConfig } from '../../../../shared/rotate-config.js';

const SA = 'rotated@proj-12345.iam.gserviceaccount.com';
const base = {
  GOOGLE_CLOUD_PROJECT: 'acme-tokens-prod',
  TVS_ROTATE_INVOKERS: 'tvs-rotation-trigger@acme-tokens-prod.iam.gserviceaccount.com',
  TVS_ROTATE_AUDIENCE: 'https://us-central1-acme-tokens-prod.cloudfunctions.net/tvs-rotate',
};
const env = (bindings: unknown) => ({
  ...base,
  TVS_ROTATION_BINDINGS: typeof bindings === 'string' ? bindings : JSON.stringify(bindings),
});
const good = { kind: 'sa-key', target: SA, period: '2592000s', grace: '7200s' };

describe('TVS_ROTATION_BINDINGS', () => {
  it('parses the map Terraform renders into secret id → binding', () => {
    const config = loadRotateConfig(
      env({
        'tvs-a': good,
        'tvs-b': {
          kind: 'api-key',
          target: 'projects/p/locations/global/keys/gemini-1',
          period: '86400s',
          grace: '7200s',
        },
      }),
    );
    expect([...config.bindings]).toEqual([
      ['tvs-a', { kind: 'sa-key', target: SA, periodMs: 2_592_000_000, graceMs: 7_200_000 }],
      [
        'tvs-b',
        {
          kind: 'api-key',
          target: 'projects/p/locations/global/keys/gemini-1',
          periodMs: 86_400_000,
          graceMs: 7_200_000,
        },
      ],
    ]);
  });

  it('accepts an empty map (nothing to rotate)', () => {
    expect(loadRotateConfig(env({})).bindings.size).toBe(0);
  });

  it.each([
    [undefined, 'is required'],
    ['{not json', 'valid JSON'],
    [[good], 'expected record'],
    [{ 'bad/id': good }, 'bad/id: Invalid key'],
    [{ s: { ...good, kind: 'policy' } }, 's.kind'],
    [{ s: { ...good, target: 'projects/p/locations/global/keys/k' } }, 's.target'],
    [{ s: { ...good, kind: 'api-key' } }, 's.target'],
    [{ s: { ...good, period: '30d' } }, 's.period'],
    [{ s: { ...good, grace: '3600s' } }, 's.grace'],
    [{ s: { ...good, grace: '2592000s' } }, 's.grace'],
    [{ s: { ...good, extra: 1 } }, 'extra'],
    [{ s: { kind: 'sa-key', target: SA } }, 's.period'],
  ])('fails loudly at start-up on %j, naming TVS_ROTATION_BINDINGS and %s', (bindings, what) => {
    const e = bindings === undefined ? base : env(bindings);
    expect(() => loadRotateConfig(e)).toThrow(ConfigError);
    expect(() => loadRotateConfig(e)).toThrow('TVS_ROTATION_BINDINGS');
    expect(() => loadRotateConfig(e)).toThrow(what);
  });
});
