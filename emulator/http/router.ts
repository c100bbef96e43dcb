import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import type { Fault, FaultRegistry } from '../faults.js';
import { BodyTooLargeError, sendGoogleError, sendJson } from './respond.js';

/** One request as a route handler sees it. */
export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  /** Result of matching the route's `path` against the pathname (capture groups = params). */
  readonly match: RegExpExecArray;
}

/** Answers a fault's `status` the way the endpoint's real errors look. */
export type FaultResponder = (ctx: RequestContext, status: number, headers: Record<string, string>) => void;

/** A route: a path pattern, the counter/fault name of its endpoint, and a handler. */
export interface Route {
  /** Anchored pattern over the URL pathname. */
  readonly path: RegExp;
  /**
   * Endpoint name for {@link FaultRegistry.take} (counted once per request, before any work),
   * derived per request when a function; `null` for routes that are not Google (admin).
   */
  readonly endpoint: string | ((ctx: RequestContext) => string) | null;
  /** Headers set on every response of this route, injected faults included. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Body for injected error statuses; defaults to Google's JSON error model. */
  readonly faultResponder?: FaultResponder;
  handle(ctx: RequestContext): Promise<void> | void;
}

/**
 * Builds the `request` listener: first matching route wins; unknown paths get Google's 404.
 * Injected faults are applied here, so every handler gets them identically.
 */
export function createRequestListener(
  routes: readonly Route[],
  faults: FaultRegistry,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    void dispatch(routes, faults, req, res);
  };
}

async function dispatch(
  routes: readonly Route[],
  faults: FaultRegistry,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  // Concatenate rather than resolve, so a path like `//x/y` stays a path instead of naming a host.
  const target = req.url ?? '/';
  const url = new URL(
    target.startsWith('/') ? `http://emulator.invalid${target}` : target,
    'http://emulator.invalid',
  );
  try {
    for (const route of routes) {
      const match = route.path.exec(url.pathname);
      if (!match) continue;
      const ctx: RequestContext = { req, res, url, match };
      for (const [name, value] of Object.entries(route.headers ?? {})) res.setHeader(name, value);
      const endpoint = typeof route.endpoint === 'function' ? route.endpoint(ctx) : route.endpoint;
      const fault = endpoint === null ? undefined : faults.take(endpoint);
      if (fault && (await applyFault(ctx, route, fault))) return;
      await route.handle(ctx);
      return;
    }
    sendGoogleError(res, 404, `The requested URL ${url.pathname} was not found on this server.`);
  } catch (error) {
    answerFailure(res, error);
  }
}

/** Applies a fault; true when the fault answered (or dropped) the request. */
async function applyFault(ctx: RequestContext, route: Route, fault: Fault): Promise<boolean> {
  if (fault.latencyMs !== undefined && fault.latencyMs > 0) await delay(fault.latencyMs);
  if (fault.reset) {
    ctx.req.socket.destroy();
    return true;
  }
  if (fault.status !== undefined) {
    const headers: Record<string, string> =
      fault.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(fault.retryAfterSeconds) };
    if (route.faultResponder) route.faultResponder(ctx, fault.status, headers);
    else sendGoogleError(ctx.res, fault.status, undefined, headers);
    return true;
  }
  if (fault.rawBody !== undefined) {
    ctx.res.writeHead(200, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(fault.rawBody),
    });
    ctx.res.end(fault.rawBody);
    return true;
  }
  return false;
}

function answerFailure(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (error instanceof BodyTooLargeError) {
    sendJson(res, 413, {
      error: { code: 413, message: 'Request Entity Too Large', status: 'INVALID_ARGUMENT' },
    });
    return;
  }
  // Only the error's kind and message: handlers never put key material into messages.
  const name = error instanceof Error ? error.name : 'Error';
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`emulator: unhandled ${name} in HTTP handler: ${message}\n`);
  sendGoogleError(res, 500);
}
