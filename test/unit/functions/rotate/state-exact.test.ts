/**
 * The rotation state's exact edges as annotations carry them: empty values, empty list items, the
 * error text an operator reads, the cut of a long error, and no empty annotations written.
 */
import { describe, expect, it } from 'vitest';
import {
  AnnotationError,
  parseRotationState,
  withRotationState,
} from '../../../../functions/rotate/state.js';

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
