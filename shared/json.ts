/**
 * Parsing JSON text that someone else wrote (an upstream's answer, an event, a payload) where
 * "not what we expected" is an answer, not an exception: these helpers never throw.
 */

/** `text` parsed as JSON, or `undefined` when it is not JSON (JSON itself has no `undefined`). */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** `text` parsed, when it is a JSON object; `undefined` for anything else (invalid, an array, `null`, a scalar). */
export function parseJsonObject(text: string): Record<string, unknown> | undefined {
  const value = parseJson(text);
  return isJsonObject(value) ? value : undefined;
}

/** Whether a parsed JSON value is an object: not `null`, not an array. */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
