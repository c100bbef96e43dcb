import type { IncomingMessage } from 'node:http';
import { readBody } from './respond.js';
import { RpcError } from './rpc-error.js';

/**
 * Reads a JSON object body for a Google REST method: an empty body is `{}`; anything that is
 * not a JSON object is 400 INVALID_ARGUMENT with the wording of Google's JSON parser.
 */
export async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  const text = (await readBody(req)).toString('utf8');
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new RpcError('INVALID_ARGUMENT', 'Invalid JSON payload received. Unexpected token.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new RpcError('INVALID_ARGUMENT', 'Invalid JSON payload received. Expected an object.');
  }
  return parsed as Record<string, unknown>;
}
