import { describe, expect, it } from 'vitest';
import { compileFilter, type FilterDoc } from '../../../../emulator/secret-manager/list-filter.js';
import { SecretManagerError } from '../../../../emulator/secret-manager/secret-manager-error.js';

const FIELDS = new Set(['name', 'labels', 'create_time', 'state', 'replication']);
const doc = (over: Partial<FilterDoc> = {}): FilterDoc => ({
  name: 'projects/1/secrets/api-key-production',
  labels: { env: 'prod', team: 'core' },
  create_time: new Date('2025-06-01T12:00:00Z'),
  state: 'ENABLED',
  replication: { automatic: {} },
  ...over,
});

describe('compileFilter', () => {
  it.each([
    ['', true],
    ['labels.env=prod', true],
    ['labels.env=dev', false],
    ['labels.env="prod"', true],
    ['labels.env:*', true],
    ['labels.missing:*', false],
    ['labels:team', true],
    ['labels.env=prod AND labels.team=core', true],
    ['labels.env=prod labels.team=other', false],
    ['labels.env=dev OR labels.team=core', true],
    ['NOT labels.env=prod', false],
    ['-labels.missing:*', true],
    ['labels.env!=prod', false],
    ['labels.missing!=x', true],
    ['name:api-key', true],
    ['name:api*production', true],
    ['name:nothing', false],
    ['create_time>2025-01-01T00:00:00Z', true],
    ['create_time<2025-01-01T00:00:00Z AND labels.env=prod', false],
    ['create_time>=2025-06-01T12:00:00Z', true],
    ['state:ENABLED', true],
    ['state:DISABLED', false],
    ['replication.automatic:*', true],
    ['replication.user_managed:*', false],
    ['(labels.env=dev OR labels.env=prod) AND state=ENABLED', true],
  ])('evaluates %j as %s', (filter, expected) => {
    expect(compileFilter(filter, FIELDS)(doc())).toBe(expected);
  });

  it('binds OR tighter than AND, as AIP-160 says', () => {
    // a AND b OR c  ==  a AND (b OR c)
    const match = compileFilter('labels.env=dev AND labels.team=core OR labels.team=x', FIELDS);
    expect(match(doc())).toBe(false);
  });

  it.each([
    ['an unknown field', 'colour=red'],
    ['a missing value', 'labels.env='],
    ['an unbalanced parenthesis', '(labels.env=prod'],
    ['a bare word', 'prod'],
    ['an unterminated string', 'labels.env="prod'],
  ])('rejects %s with INVALID_ARGUMENT', (_why, filter) => {
    expect(() => compileFilter(filter, FIELDS)).toThrow(SecretManagerError);
    try {
      compileFilter(filter, FIELDS);
    } catch (error) {
      expect((error as SecretManagerError).status).toBe('INVALID_ARGUMENT');
    }
  });

  it('rejects a time comparison against something that is not a time', () => {
    const match = compileFilter('create_time>yesterday', FIELDS);
    expect(() => match(doc())).toThrow(/RFC 3339/);
  });
});
