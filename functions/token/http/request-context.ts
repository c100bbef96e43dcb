/** What every handler needs to know about the incoming request, and the body checks they share. */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { InvalidArgumentError } from '../../../shared/errors.js';
import { traceContext } from '../../../shared/trace-context.js';
import { hasServerlessAuthorization } from './credential-headers.js';

/** functions-framework adds `rawBody`; the body-parser guard adds `bodyError`. */
export type FunctionRequest = IncomingMessage & { rawBody?: Buffer; bodyError?: string };

export interface RequestContext {
  requestId: string;
  trace?: string;
  /** The request's span id (16 lower hex) and sampled flag, with `trace`. */
  spanId?: string;
  traceSampled?: boolean;
  startedAtMs: number;
  userAgent?: string;
  remoteIp?: string;
  /** Whether Cloud Run's `X-Serverless-Authorization` came (audited as a boolean, never its value). */
  serverlessAuthorization?: boolean;
}

export const MAX_BODY_BYTES = 64 * 1024;

export function requestContext(
  req: FunctionRequest,
  projectId: string | undefined,
  nowMs: number,
): RequestContext {
  const tc = traceContext(projectId, header(req, 'traceparent'), header(req, 'x-cloud-trace-context'));
  return {
    // Always ours: a caller-supplied id (e.g. function-execution-id) could collide with another request's entries.
    requestId: randomUUID(),
    trace: tc?.trace,
    ...(tc ? { spanId: tc.spanId, traceSampled: tc.sampled } : {}),
    startedAtMs: nowMs,
    userAgent: header(req, 'user-agent')?.slice(0, 200),
    remoteIp: req.socket.remoteAddress,
    ...(hasServerlessAuthorization(req) ? { serverlessAuthorization: true } : {}),
  };
}

export function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Checks the body's size and media type; returns the raw bytes. Throws `InvalidArgumentError`
 * carrying the status to answer with: 413 too big, 415 wrong media type, 400 unparseable.
 */
export function readBody(
  req: FunctionRequest,
  mediaType: 'application/json' | 'application/x-www-form-urlencoded',
): Buffer {
  const declared = Number(header(req, 'content-length') ?? 0);
  if (
    req.bodyError === 'entity.too.large' ||
    declared > MAX_BODY_BYTES ||
    (req.rawBody?.length ?? 0) > MAX_BODY_BYTES
  ) {
    throw new InvalidArgumentError(`The request body exceeds ${MAX_BODY_BYTES} bytes.`, {
      reason: 'REQUEST_TOO_LARGE',
      httpStatus: 413,
    });
  }
  const contentType = header(req, 'content-type')?.split(';', 1)[0]?.trim().toLowerCase();
  if (contentType !== mediaType) {
    throw new InvalidArgumentError(`The request body must be ${mediaType}.`, {
      reason: 'UNSUPPORTED_MEDIA_TYPE',
      httpStatus: 415,
    });
  }
  if (req.bodyError !== undefined) {
    throw new InvalidArgumentError(
      mediaType === 'application/json'
        ? 'The request body is not valid JSON.'
        : 'The request body could not be parsed.',
      { reason: mediaType === 'application/json' ? 'MALFORMED_JSON' : 'MALFORMED_BODY' },
    );
  }
  return req.rawBody ?? Buffer.alloc(0);
}
