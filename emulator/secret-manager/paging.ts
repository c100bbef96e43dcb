/**
 * Paging for the list calls. Items are listed newest first (ListSecretsResponse documents
 * "sorted in reverse by create_time"); the page token remembers the creation sequence number of
 * the last item served, so pages stay stable when items are added or deleted between calls.
 * Tokens are bound to the request's parent and filter: reusing one elsewhere is INVALID_ARGUMENT.
 */
import { createHash } from 'node:crypto';
import { invalidArgument } from './secret-manager-error.js';
import type { Page } from './secret-model.js';

/** The service caps page_size at 25000 and picks the size itself when it is 0. */
export const MAX_PAGE_SIZE = 25_000;

function queryHash(query: string): string {
  return createHash('sha256').update(query).digest('base64url').slice(0, 12);
}

function readToken(token: string, query: string): number {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as {
      a?: unknown;
      q?: unknown;
    };
    if (typeof parsed.a === 'number' && Number.isSafeInteger(parsed.a) && parsed.q === queryHash(query))
      return parsed.a;
  } catch {
    // fall through to the error below
  }
  throw invalidArgument(`Invalid page token [${token}].`);
}

/**
 * Returns one page of `items` (each with its creation `seq`), newest first.
 * `query` identifies the request (parent + filter) the token belongs to.
 */
export function paginate<T>(
  items: Array<{ seq: number; value: T }>,
  request: { pageSize?: number; pageToken?: string; filtered: boolean; query: string },
): Page<T> {
  const pageSize = request.pageSize ?? 0;
  if (!Number.isInteger(pageSize) || pageSize < 0) throw invalidArgument('page_size must not be negative.');
  const size = pageSize === 0 ? MAX_PAGE_SIZE : Math.min(pageSize, MAX_PAGE_SIZE);
  const sorted = [...items].sort((a, b) => b.seq - a.seq);
  const after = request.pageToken ? readToken(request.pageToken, request.query) : undefined;
  const remaining = after === undefined ? sorted : sorted.filter((item) => item.seq < after);
  const page = remaining.slice(0, size);
  const more = remaining.length > size;
  const nextPageToken = more
    ? Buffer.from(JSON.stringify({ a: page[page.length - 1].seq, q: queryHash(request.query) })).toString(
        'base64url',
      )
    : '';
  return {
    items: page.map((item) => item.value),
    nextPageToken,
    totalSize: request.filtered ? 0 : sorted.length,
  };
}
