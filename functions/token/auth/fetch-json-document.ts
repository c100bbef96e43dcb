import { boundedFetch, type ResponseHeaders } from '../../../shared/http/bounded-fetch.js';
import { isJsonObject } from '../../../shared/json.js';

/** Limits for fetching a public JSON document (discovery, JWKS). */
export interface DocumentFetchLimits {
  fetchTimeoutMs: number;
  maxDocumentBytes: number;
  fetchImpl: typeof fetch | undefined;
}

export interface JsonDocument {
  body: Record<string, unknown>;
  headers: ResponseHeaders;
}

/**
 * GETs a public JSON object with a deadline and a size cap. Failures throw an `Error` whose
 * message names the URL (these documents are public) and what went wrong; callers wrap it.
 */
export async function fetchJsonDocument(url: string, limits: DocumentFetchLimits): Promise<JsonDocument> {
  let response;
  try {
    response = await boundedFetch(url, {
      headers: { accept: 'application/json' },
      timeoutMs: limits.fetchTimeoutMs,
      maxBytes: limits.maxDocumentBytes,
      fetchImpl: limits.fetchImpl,
    });
  } catch (error) {
    // boundedFetch throws only Errors: FetchError for the transport, TypeError for bad options.
    throw new Error(`GET ${url}: ${(error as Error).message}`, { cause: error });
  }
  if (response.status !== 200) throw new Error(`GET ${url}: HTTP ${response.status}`);
  let body: unknown;
  try {
    body = JSON.parse(response.text);
  } catch (error) {
    throw new Error(`GET ${url}: body is not JSON`, { cause: error });
  }
  if (!isJsonObject(body)) throw new Error(`GET ${url}: body is not a JSON object`);
  return { body, headers: response.headers };
}
