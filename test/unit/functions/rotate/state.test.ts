import { describe, expect, it } from 'vitest';
import {
  AnnotationError,
  parseRotationState,
  withRotationState,
  type RotationState,
} from '../../../../functions/rotate/state.js';

const config = {
  'tvs.rotation.target': 'rotated@proj-12345.iam.gserviceaccount.com',
  'tvs.rotation.period': '2592000s',
  'tvs.rotation.grace': '7200s',
};

describe('rotation annotations', () => {
  it('reads a secret never rotated as idle, generation 0', () => {
    expect(parseRotationState(config)).toEqual({ phase: 'idle', generation: 0 });
  });

  it('round-trips every state field and keeps the config and foreign annotations', () => {
    const state: RotationState = {
      phase: 'verifying',
      generation: 3,
      claim: { owner: 'abc123', expiresAtMs: Date.parse('2026-01-01T00:10:00Z') },
      currentKey: 'k1',
      newKey: 'k2',
      newVersion: 4,
      oldKey: 'k0',
      oldVersion: 3,
      keysBefore: ['k0', 'k1'],
      baseVersion: 3,
      rotatedAtMs: Date.parse('2026-01-01T00:00:00Z'),
      disabledAtMs: Date.parse('2026-01-01T02:00:00Z'),
      lastError: 'KEY_CAP',
    };
    const annotations = withRotationState(
      { ...config, 'other.tool': 'x', 'tvs.rotation.new-key': 'stale' },
      state,
    );
    expect(annotations['other.tool']).toBe('x');
    expect(annotations['tvs.rotation.target']).toBe(config['tvs.rotation.target']);
    expect(
      Object.keys(annotations).every((k) => /^[a-zA-Z0-9](?:[a-zA-Z0-9._-]{0,61}[a-zA-Z0-9])?$/.test(k)),
    ).toBe(true);
    expect(parseRotationState(annotations)).toEqual(state);
    expect(parseRotationState(withRotationState(annotations, { phase: 'idle', generation: 3 }))).toEqual({
      phase: 'idle',
      generation: 3,
    });
  });

  it.each([
    ['tvs.rotation.phase', 'rotating'],
    ['tvs.rotation.claim', 'no-expiry'],
    ['tvs.rotation.claim', 'abc@not-a-time'],
    ['tvs.rotation.new-version', '0'],
    ['tvs.rotation.rotated-at', 'yesterday'],
    ['tvs.rotation.keys-before', 'a,b c'],
  ])('refuses a corrupt state annotation %s=%s', (key, value) => {
    expect(() => parseRotationState({ [key]: value })).toThrow(key.replace('tvs.rotation.', ''));
  });
});

const refusal = (annotations: Record<string, string>) => {
  try {
    parseRotationState(annotations);
  } catch (err) {
    expect(err).toBeInstanceOf(AnnotationError);
    expect((err as Error).name).toBe('AnnotationError');
    return (err as Error).message;
  }
  throw new Error('accepted');
};

describe('rotation state, exactly', () => {
  it('reads an empty annotation as absent', () => {
    expect(
      parseRotationState({
        'tvs.rotation.phase': 'idle',
        'tvs.rotation.generation': '2',
        'tvs.rotation.new-key': '',
      }),
    ).toEqual({ phase: 'idle', generation: 2 });
  });

  it('ignores empty items of the keys-before list', () => {
    expect(
      parseRotationState({
        'tvs.rotation.phase': 'creating',
        'tvs.rotation.generation': '1',
        'tvs.rotation.keys-before': 'k0,,k1,',
      }).keysBefore,
    ).toEqual(['k0', 'k1']);
  });

  it('names each bad annotation, joined by "; ", and says what a claim expiry must be', () => {
    expect(
      refusal({
        'tvs.rotation.phase': 'creating',
        'tvs.rotation.generation': '1',
        'tvs.rotation.claim': 'run-1@not-a-time',
        'tvs.rotation.new-version': '-1',
      }),
    ).toMatch(
      /^bad rotation state: tvs\.rotation\.claim: claim expiry must be an RFC 3339 time; tvs\.rotation\.new-version: .+$/,
    );
  });

  it('writes at most 200 characters of the last error, and no annotation for an absent field', () => {
    const annotations = withRotationState({}, { phase: 'idle', generation: 1, lastError: 'E'.repeat(300) });
    expect(annotations['tvs.rotation.last-error']).toBe('E'.repeat(200));
    expect(
      Object.keys(annotations)
        .filter((k) => k.startsWith('tvs.rotation.'))
        .sort(),
    ).toEqual(['tvs.rotation.generation', 'tvs.rotation.last-error', 'tvs.rotation.phase']);
  });
});
