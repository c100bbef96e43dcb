import { describe, expect, it } from 'vitest';
import { CelSubsetError, parseCelSubset } from '../../../emulator/cel-subset.js';

const obj = {
  name: 'projects/_/buckets/b/objects/app/x.log',
  type: 'storage.googleapis.com/Object',
  service: 'storage.googleapis.com',
};

describe('emulator CEL subset', () => {
  it.each<[string, boolean]>([
    ["resource.name.startsWith('projects/_/buckets/b/objects/app/')", true],
    ["resource.name.startsWith('projects/_/buckets/b/objects/other/')", false],
    ["resource.name.endsWith('.log') && resource.type == 'storage.googleapis.com/Object'", true],
    ['!(resource.name == \'x\') && (false || resource.service == "storage.googleapis.com")', true],
    ["resource.name != 'x'", true],
    ["resource.name == '''projects/_/buckets/b/objects/app/x.log'''", true],
    ["resource.name == r'projects/_/buckets/b/objects/app/x.log'", true],
    ["resource.name == 'projects/_/buckets/b/objects/app/x\\x2elog'", true],
    ["resource.name.startsWith('projects/_/buckets/b/objects/x/\\') || true || (\\'/')", false],
    ["'a' == 'a' // comment ' \n && true", true],
    ['resource.name', false],
    ["resource.name == true || resource.name.startsWith('projects/')", true],
  ])('%s → %s', (expression, expected) => {
    expect(parseCelSubset(expression).evaluate(obj)).toBe(expected);
  });

  it.each([
    "resource.name.matches('x')",
    'request.time < timestamp("2030-01-01T00:00:00Z")',
    "b'x' == 'x'",
    "resource.name == 'x",
    "resource.name == 'a\\q'",
    "resource.name + 'x' == 'y'",
    "resource.name == 'x' resource",
    'size(resource.name) > 1',
    "resource.labels == 'x'",
  ])('refuses %s', (expression) => {
    expect(() => parseCelSubset(expression)).toThrow(CelSubsetError);
  });
});
