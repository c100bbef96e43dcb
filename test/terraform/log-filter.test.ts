import { describe, expect, it } from 'vitest';
import { evaluateTemplate, type HclScope } from './lib/hcl-eval.js';
import { compileFilter } from './lib/log-filter.js';

const ENTRY = {
  logName: 'projects/p/logs/run.googleapis.com%2Fstdout',
  resource: { type: 'cloud_run_revision', labels: { service_name: 'tvs-token' } },
  labels: { component: 'token-vending' },
  jsonPayload: { decision: 'denied', httpStatus: 400, reason: 'NO_RULE_FOR_CALLER' },
};

describe('the Logging query evaluator used by the filter tests', () => {
  it.each([
    ['resource.type="cloud_run_revision" AND jsonPayload.decision="denied"', true],
    ['resource.type="cloud_run_revision" jsonPayload.decision="granted"', false],
    // OR binds tighter than AND: a AND b OR c is a AND (b OR c).
    ['jsonPayload.decision="granted" AND resource.type="x" OR resource.type="cloud_run_revision"', false],
    ['jsonPayload.decision="granted" OR resource.type="x" AND resource.type="cloud_run_revision"', false],
    ['(jsonPayload.decision="granted" AND resource.type="x") OR resource.type="cloud_run_revision"', true],
    ['NOT jsonPayload.decision="granted"', true],
    ['-jsonPayload.decision="denied"', false],
    ['jsonPayload.httpStatus=(401 OR 403)', false],
    ['jsonPayload.httpStatus=(400 OR 403)', true],
    ['NOT jsonPayload.httpStatus=(401 OR 403)', true],
    ['jsonPayload.missing="x"', false],
    ['NOT jsonPayload.missing="x"', true],
    ['jsonPayload.missing!="x"', false],
    ['jsonPayload.reason!="x"', true],
    ['jsonPayload.decision:*', true],
    ['jsonPayload.missing:*', false],
    ['jsonPayload.reason:"rule_for"', true],
    ['jsonPayload.reason="rule_for"', false],
    ['logName:"/logs/token-vending-audit"', false],
    ['log_id("run.googleapis.com/stdout")', true],
    ['log_id("run.googleapis.com/stderr")', false],
    ['labels.component="token-vending"', true],
  ])('%s → %s', (filter, expected) => {
    expect(compileFilter(filter)(ENTRY)).toBe(expected);
  });

  it.each(['jsonPayload.latencyMs>~3', '"bare global text"', 'jsonPayload.decision=~"d.*"', '(a="x"'])('refuses syntax it does not implement: %s', (filter) => {
    expect(() => compileFilter(filter)).toThrow();
  });

  describe('ordered comparisons (<, <=, >, >=)', () => {
    const timed = { ...ENTRY, severity: 'WARNING', jsonPayload: { ...ENTRY.jsonPayload, latencyMs: 50, text: '70' } };
    it.each([
      ['jsonPayload.latencyMs>=50', true],
      ['jsonPayload.latencyMs>50', false],
      ['jsonPayload.latencyMs<50', false],
      ['jsonPayload.latencyMs<=50', true],
      ['jsonPayload.latencyMs>=49.5', true],
      ['jsonPayload.latencyMs<-1', false],
      ['jsonPayload.httpStatus>=500', false],
      ['jsonPayload.httpStatus>=400', true],
      // A missing field never compares, nor does its negation turn into a match of the field.
      ['jsonPayload.missing>=0', false],
      ['jsonPayload.missing<0', false],
      // severity is ordered by LogSeverity rank, not by name.
      ['severity>=WARNING', true],
      ['severity>="ERROR"', false],
      ['severity<ERROR', true],
      ['severity>INFO AND jsonPayload.latencyMs>=50', true],
    ])('%s → %s', (filter, expected) => {
      expect(compileFilter(filter)(timed)).toBe(expected);
    });

    it('refuses to guess how a string field orders against a number', () => {
      const p = compileFilter('jsonPayload.text>=7');
      expect(() => p(timed)).toThrow(/not supported/);
    });

    it('refuses an unknown severity name', () => {
      expect(() => compileFilter('severity>=LOUD')(timed)).toThrow(/unknown severity/);
    });
  });
});

describe('the HCL expression evaluator used to render filters', () => {
  const scope: HclScope = { vars: { names: ['a', 'b'], one: 'x' }, local: (n) => (n === 'l' ? 'L' : (() => { throw new Error(n); })()) };

  it.each([
    ['${join(" OR ", [for n in var.names : "s=\\"${n}\\""])}', 's="a" OR s="b"'],
    ['k=\\"${var.one}\\" ${local.l}', 'k=\\"x\\" L'],
    ['${join(",", concat(var.names, ["c"]))}', 'a,b,c'],
    ['${format("%s-%s", var.one, local.l)}', 'x-L'],
    ['${distinct(concat(var.names, var.names))}', ['a', 'b']],
    ['${var.one == "x" ? "a" : "b"}', 'a'],
    ['${var.one != "x" ? "a" : "b"}', 'b'],
    // Only the chosen branch is evaluated: the other may name what has no value here.
    ['${var.one == "x" ? 1 : var.missing}', 1],
    ['${!contains(var.names, "c") && length(var.names) >= 2 || var.one == null ? "ok" : "no"}', 'ok'],
    ['${join(",", distinct(concat(split(",", coalesce(null, "a,b")), ["b", "c"])))}', 'a,b,c'],
  ])('%s', (template, expected) => {
    expect(evaluateTemplate(template, scope)).toEqual(expected);
  });

  it.each(['${var.one + "x"}', '${length(var.names) * 2}', '${lower(var.one)}', '${var.missing}', '${google_x.y.name}', '${var.one ? "a" : "b"}', '${length(var.names) > "1"}'])('refuses what it does not implement: %s', (template) => {
    expect(() => evaluateTemplate(template, scope)).toThrow();
  });
});
