/**
 * Policy text to a plain value, before the strict schema: JSON when the first non-space
 * character is `{`, YAML otherwise. YAML is read as YAML 1.2 with the core schema only (no
 * custom or YAML 1.1 tags such as `!!binary`; `yes`/`no`/`on`/`off` are strings, not booleans),
 * unique string keys, no merge keys, and few aliases. Error messages give a position and a code,
 * never the text around it: the policy holds client secrets' hashes.
 *
 * The YAML parser (`yaml`, ~116 KiB) loads only when a policy is YAML: production policies are
 * JSON (Secret Manager), so the deployed function's cold start does not compile it.
 */
import { PolicyError } from './compile-policy.js';

/** Parses policy text; rejects with `PolicyError` naming `source` and where the text is broken. */
export async function parsePolicyText(text: string, source: string): Promise<unknown> {
  if (isJsonPolicy(text)) return parseJsonPolicy(text, source);
  const { parseYamlPolicy } = await import('./parse-policy-yaml.js');
  return parseYamlPolicy(text, source);
}

/** JSON when the first non-space character is `{`. */
export function isJsonPolicy(text: string): boolean {
  return /^\s*\{/.test(text);
}

export function parseJsonPolicy(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    // V8's message quotes the text around the error, and the policy may hold secrets' hashes.
    const position = /position (\d+)/.exec((err as Error).message)?.[1];
    throw new PolicyError(
      `Invalid policy from ${source}: not valid JSON${position ? ` (at position ${position})` : ''}`,
    );
  }
}
