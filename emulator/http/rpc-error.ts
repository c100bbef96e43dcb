import type { ServerResponse } from 'node:http';
import { sendJson } from './respond.js';

/** `google.rpc.Code` names and the HTTP status Google's REST front ends map each to. */
export const RPC_HTTP_STATUS = {
  INVALID_ARGUMENT: 400,
  FAILED_PRECONDITION: 400,
  OUT_OF_RANGE: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  ABORTED: 409,
  RESOURCE_EXHAUSTED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
} as const;

export type RpcCode = keyof typeof RPC_HTTP_STATUS;

/** A `google.rpc.ErrorInfo` detail. */
export function errorInfo(
  reason: string,
  metadata: Record<string, string>,
  domain = 'googleapis.com',
): Record<string, unknown> {
  return { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason, domain, metadata };
}

/** A `google.rpc.LocalizedMessage` detail (Google repeats the message in en-US). */
export function localizedMessage(message: string): Record<string, unknown> {
  return { '@type': 'type.googleapis.com/google.rpc.LocalizedMessage', locale: 'en-US', message };
}

/** An error a handler throws or returns; answered in Google's JSON error model. */
export class RpcError extends Error {
  override readonly name = 'RpcError';
  constructor(
    readonly code: RpcCode,
    message: string,
    readonly details: readonly Record<string, unknown>[] = [],
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }

  get httpStatus(): number {
    return RPC_HTTP_STATUS[this.code];
  }
}

/** Sends `{"error": {code, message, status, details?}}` for an {@link RpcError}. */
export function sendRpcError(res: ServerResponse, error: RpcError): void {
  sendJson(
    res,
    error.httpStatus,
    {
      error: {
        code: error.httpStatus,
        message: error.message,
        status: error.code,
        ...(error.details.length > 0 ? { details: error.details } : {}),
      },
    },
    { ...error.headers },
  );
}

/**
 * Runs a handler body, answering a thrown {@link RpcError} in Google's error model (other
 * errors propagate to the router, which answers 500).
 */
export async function answerRpc(res: ServerResponse, body: () => Promise<void> | void): Promise<void> {
  try {
    await body();
  } catch (error) {
    if (error instanceof RpcError && !res.headersSent) {
      sendRpcError(res, error);
      return;
    }
    throw error;
  }
}
