/**
 * The YAML half of policy parsing (see parse-policy-text.ts): YAML 1.2 with the core schema only
 * (no custom or YAML 1.1 tags such as `!!binary`; `yes`/`no`/`on`/`off` are strings, not booleans),
 * unique string keys, no merge keys, and few aliases. Loaded on demand by `parsePolicyText`; the
 * CLI and tests use `parsePolicyTextSync`.
 */
import { parseDocument, type YAMLError } from 'yaml';
import { PolicyError } from './compile-policy.js';
import { isJsonPolicy, parseJsonPolicy } from './parse-policy-text.js';

/** Alias expansions a YAML policy may use (the `yaml` library's count, which weighs what an alias repeats). */
export const MAX_YAML_ALIAS_COUNT = 50;

/** `parsePolicyText`, synchronously (the `yaml` library is loaded with this module). */
export function parsePolicyTextSync(text: string, source: string): unknown {
  return isJsonPolicy(text) ? parseJsonPolicy(text, source) : parseYamlPolicy(text, source);
}

export function parseYamlPolicy(text: string, source: string): unknown {
  const doc = parseDocument(text, {
    version: '1.2',
    // Stryker disable next-line StringLiteral: 'core' is also the library's default schema for YAML 1.2
    schema: 'core',
    customTags: [],
    resolveKnownTags: false,
    merge: false,
    uniqueKeys: true,
    stringKeys: true,
    strict: true,
    prettyErrors: true,
  });
  // An unresolved tag is only a warning to the library; here every warning refuses the policy.
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) throw new PolicyError(`Invalid policy from ${source}: not valid YAML (${where(problem)})`);
  try {
    return doc.toJS({ maxAliasCount: MAX_YAML_ALIAS_COUNT });
  } catch (err) {
    // The library's guard against entity-expansion ("billion laughs") documents.
    // Stryker disable next-line ConditionalExpression: toJS throws nothing else today; the rethrow is for a future library
    if (!(err instanceof Error && /alias/i.test(err.message))) throw err;
    throw new PolicyError(
      `Invalid policy from ${source}: not valid YAML (too many aliases: at most ${MAX_YAML_ALIAS_COUNT} expansions)`,
      { cause: err },
    );
  }
}

const DESCRIPTIONS: Partial<Record<YAMLError['code'], string>> = {
  DUPLICATE_KEY: 'duplicate key',
  TAG_RESOLVE_FAILED: 'tags other than the YAML 1.2 core schema are not accepted',
  MULTIPLE_DOCS: 'more than one document',
  BAD_INDENT: 'bad indentation',
  BLOCK_AS_IMPLICIT_KEY: 'a nested mapping where a value was expected (check the indentation)',
  MISSING_CHAR: 'unterminated quote or bracket',
};

function where(problem: YAMLError): string {
  const position = problem.linePos?.[0];
  const at = position ? `line ${position.line}, column ${position.col}: ` : '';
  return `${at}${DESCRIPTIONS[problem.code] ?? problem.code}`;
}
