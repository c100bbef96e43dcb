import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { asciiLower, compileGlob } from '../../../../../functions/token/policy/glob.js';

describe('compileGlob', () => {
  it.each([
    ['exact', 'a@b.com', 'a@b.com', true],
    ['exact is anchored at the end', 'a@b.com', 'a@b.com.evil.com', false],
    ['exact is anchored at the start', 'a@b.com', 'xa@b.com', false],
    [
      'star matches one email local part',
      '*@proj.iam.gserviceaccount.com',
      'ci@proj.iam.gserviceaccount.com',
      true,
    ],
    [
      'star does not cross the @',
      '*@proj.iam.gserviceaccount.com',
      'a@evil.com@proj.iam.gserviceaccount.com',
      false,
    ],
    [
      'star does not cross a domain label',
      'ci@*.iam.gserviceaccount.com',
      'ci@evil.com.iam.gserviceaccount.com',
      false,
    ],
    [
      'star does not cross a path segment',
      'repo:org/*:ref:refs/heads/main',
      'repo:org/a/b:ref:refs/heads/main',
      false,
    ],
    [
      'star matches within a segment',
      'repo:org/*:ref:refs/heads/main',
      'repo:org/app:ref:refs/heads/main',
      true,
    ],
    ['star does not match empty', 'repo:org/*:ref', 'repo:org/:ref', false],
    ['star does not cross an @ (no dot in the value to stop it)', '*-admin', 'a@b-admin', false],
    ['star does not cross a colon', 'system:serviceaccount:ci:*', 'system:serviceaccount:ci:a:b', false],
    ['regex metacharacters are literal', 'https://a.b/(x)+', 'https://a.b/(x)+', true],
    ['a dot is literal', 'https://a.b', 'https://aXb', false],
    ['star does not match whitespace or newline', 'a*b', 'a\nb', false],
    ['URL host glob stays in one label', 'https://*.run.app', 'https://evil.com/.run.app', false],
    ['URL host glob matches a service', 'https://*.run.app', 'https://svc-abc.run.app', true],
  ])('%s', (_name, pattern, value, expected) => {
    expect(compileGlob(pattern)(value)).toBe(expected);
  });

  it('folds ASCII case only when asked', () => {
    expect(
      compileGlob('ci@p.iam.gserviceaccount.com', { caseInsensitiveAscii: true })(
        'CI@P.iam.gserviceaccount.com',
      ),
    ).toBe(true);
    expect(compileGlob('ci@p.iam.gserviceaccount.com')('CI@P.iam.gserviceaccount.com')).toBe(false);
  });

  it('never folds Unicode look-alikes (KELVIN SIGN is not k)', () => {
    const m = compileGlob('kim@p.com', { caseInsensitiveAscii: true });
    expect('\u212Aim@p.com'.toLowerCase()).toBe('kim@p.com'); // what a naive fold would do
    expect(m('\u212Aim@p.com')).toBe(false);
    expect(asciiLower('\u212A')).toBe('\u212A');
  });

  it('rejects ** unless allowed, *** always, and empty patterns', () => {
    expect(() => compileGlob('a/**')).toThrow(
      new TypeError('"**" is allowed only in subject and claims patterns'),
    );
    expect(() => compileGlob('a/***', { allowDoubleStar: true })).toThrow(
      new TypeError('"***" is ambiguous: use "*" or "**"'),
    );
    expect(() => compileGlob('')).toThrow(new TypeError('empty pattern'));
  });
});

describe('compileGlob under hostile input', () => {
  // A backtracking regex (the previous implementation) needs O(n^3) steps here — hours for this
  // input — so a regression shows up as this test hitting its timeout; the automaton takes milliseconds.
  it('rejects a hostile value without backtracking', () => {
    const m = compileGlob('ci-*-*-*@p.iam.gserviceaccount.com');
    const hostile = `ci-${'a-'.repeat(20_000)}`; // no @: can never match
    expect(m(hostile)).toBe(false);
    expect(m(`ci-a-b-c@p.iam.gserviceaccount.com`)).toBe(true);
    expect(m(`ci-a-b-c-d@p.iam.gserviceaccount.com`)).toBe(true);
  });
});

describe('compileGlob with **', () => {
  const glob = (pattern: string) => compileGlob(pattern, { allowDoubleStar: true });

  it.each([
    ['spans path segments', 'project_path:my-group/**', 'project_path:my-group/sub/project', true],
    ['spans dots', 'repo:org/app:ref:refs/heads/release/**', 'repo:org/app:ref:refs/heads/release/1.2', true],
    ['matches one segment too', 'my-group/**', 'my-group/project', true],
    ['does not match empty', 'my-group/**', 'my-group/', false],
    ['is anchored at the start', 'my-group/**', 'evil/my-group/x', false],
    ['is anchored at the end', 'repo:org/**:ref:refs/heads/main', 'repo:org/a:ref:refs/heads/main:x', false],
    [
      'never crosses a colon',
      'repo:org/**:ref:refs/heads/main',
      'repo:org/a:ref:refs/heads/dev:ref:refs/heads/main',
      false,
    ],
    ['never crosses an @', 'a/**', 'a/b@c', false],
    ['never crosses a ?', 'a/**', 'a/b?c', false],
    ['never crosses a #', 'a/**', 'a/b#c', false],
    ['never crosses whitespace', 'a/**', 'a/b c', false],
    ['never crosses a newline', 'a/**', 'a/b\nc', false],
    ['mixes with * (which still stops at /)', 'g/**/*-prod', 'g/a/b/app-prod', true],
    ['mixes with * (which still stops at /)', 'g/**/*-prod', 'g/a/b/app/x-prodx', false],
    ['a * next to ** still needs its own character', 'g/**x', 'g/a/bx', true],
  ])('%s: %j vs %j', (_name, pattern, value, expected) => {
    expect(glob(pattern)(value)).toBe(expected);
  });

  // A reference that backtracks (fine on these short inputs): the automaton must agree with it.
  const reference = (pattern: string) => {
    const source = pattern
      .split(/(\*\*|\*)/)
      .map((part) =>
        part === '**'
          ? '[^@:?#\\s]+'
          : part === '*'
            ? '[^/.@:?#\\s]+'
            : part.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'),
      )
      .join('');
    return new RegExp(`^${source}$`, 'u');
  };
  const patternArb = fc
    .array(fc.constantFrom('a', 'b', '/', '.', ':', '@', '#', '*', '**'), { minLength: 1, maxLength: 8 })
    .map((parts) => parts.join(''))
    .filter((p) => !p.includes('***'));
  const valueArb = fc
    .array(fc.constantFrom('a', 'b', '/', '.', ':', '@', '#', '?', ' ', '\n'), { maxLength: 12 })
    .map((parts) => parts.join(''));

  it('agrees with an anchored regular expression on every pattern and value', () => {
    fc.assert(
      fc.property(patternArb, valueArb, (pattern, value) => {
        expect(glob(pattern)(value)).toBe(reference(pattern).test(value));
      }),
      { numRuns: 3000, seed: 20_261_205 },
    );
  });

  // The automaton's state rows are shared by every matcher and grow for long patterns: matchers of
  // very different lengths, used in turn, must not see each other's states.
  it('agrees with the reference when long and short matchers are used in turn', () => {
    const longPatternArb = fc
      .array(fc.constantFrom('a', 'b', '/', '.', '*', '**'), { minLength: 60, maxLength: 160 })
      .map((parts) => parts.join(''))
      .filter((p) => !p.includes('***'));
    const longValueArb = fc
      .array(fc.constantFrom('a', 'b', '/', '.', ':'), { minLength: 0, maxLength: 200 })
      .map((parts) => parts.join(''));
    fc.assert(
      fc.property(
        longPatternArb,
        patternArb,
        longValueArb,
        valueArb,
        (long, short, longValue, shortValue) => {
          const [longGlob, shortGlob] = [glob(long), glob(short)];
          for (const value of [longValue, shortValue, `${longValue}${shortValue}`])
            for (const [matcher, pattern] of [
              [longGlob, long],
              [shortGlob, short],
            ] as const)
              expect(matcher(value)).toBe(reference(pattern).test(value));
        },
      ),
      { numRuns: 400, seed: 20_261_207 },
    );
  });

  it('a ** never matches a value holding : @ ? # or whitespace where the pattern has none', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('g/**', '**', 'a/**/b', '**.example.com'),
        valueArb,
        fc.constantFrom(':', '@', '?', '#', ' ', '\t', '\n'),
        (pattern, value, forbidden) => {
          expect(glob(pattern)(`${value}${forbidden}${value}`)).toBe(false);
        },
      ),
      { numRuns: 500, seed: 20_261_205 },
    );
  });

  it.each([
    ['a*b', 'axbc'],
    ['a*b', 'axbbx'],
    ['a*.b', 'ax.bb'],
    ['*.example.com', 'x.example.comm'],
    ['https://*.a.run.app', 'https://x.a.run.appz'],
    ['repo:acme/**', 'repo:acme'],
  ])('after a wildcard, a literal still ends the match: %s does not match %s', (pattern, value) => {
    expect(glob(pattern)(value)).toBe(false);
  });

  // No stopwatch (a loaded CI machine makes one flaky): the automaton answers in milliseconds, a
  // backtracking matcher would take hours on this value, so the test's own timeout is the bound.
  it('stays linear on hostile values (no backtracking)', { timeout: 60_000 }, () => {
    const m = glob('a/**/**/**/**/b/**/c');
    const hostile = `a/${'x/'.repeat(50_000)}`; // never ends in /c
    expect(m(hostile)).toBe(false);
    expect(m(`a/${'x/'.repeat(10)}b/y/c`)).toBe(true);
  });
});
