/**
 * `rotate` over HTTP (Cloud Scheduler, or a person with `curl`): POST an optional JSON body
 * `{dryRun?, force?, secrets?}`; the answer is the run report, 200 when every secret is fine and
 * 500 when any failed (so Scheduler retries). Callers are authenticated twice: by the platform
 * (Cloud Run IAM invoker check of the OIDC token) before the function runs, and here by
 * `authorize` (the same token verified again and its email checked against the configured
 * invokers), before the body is even read.
 */
import type { Request, Response } from '@google-cloud/functions-framework';
import { z } from 'zod';
import { InvalidArgumentError, type TvsError } from '../../shared/errors.js';
import { toHttpError } from '../../shared/google-error.js';
import { runWithRequestTrace, type RequestTraceSlot } from '../../shared/ops-log.js';
import { traceContext } from '../../shared/trace-context.js';
import type { InvokerCheck } from './invoker-check.js';
import type { RunReport } from './report.js';
import type { SweepRequest } from './sweep.js';

const bodySchema = z.strictObject({
  dryRun: z.boolean().optional(),
  force: z.boolean().optional(),
  secrets: z
    .array(
      z
        .string()
        .regex(
          /^(projects\/[^/]+\/secrets\/)?[A-Za-z0-9_-]{1,255}$/,
          'must be a secret id or projects/P/secrets/S',
        ),
    )
    .min(1)
    .max(100)
    .optional(),
});

/** Parses the request body (absent or `{}` = sweep everything due). */
export function parseSweepRequest(body: unknown): SweepRequest {
  const value =
    body === undefined || body === null || body === '' || (Buffer.isBuffer(body) && body.length === 0)
      ? {}
      : body;
  const parsed = bodySchema.safeParse(value);
  if (!parsed.success) {
    throw new InvalidArgumentError(
      `Invalid request body: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`,
      { reason: 'INVALID_BODY' },
    );
  }
  return parsed.data;
}

export interface RotateHttpDeps {
  run: (request: SweepRequest) => Promise<RunReport>;
  authorize: InvokerCheck;
  /** Called with each refused request's error (log-safe: reason and detail, never the token). */
  onRefused: (error: TvsError) => void;
  /** For trace correlation (`projects/P/traces/T`); without it, entries carry no trace. */
  projectId?: string;
}

export function createRotateHttpHandler({ run, authorize, onRefused, projectId }: RotateHttpDeps) {
  const handle = async (req: Request, res: Response): Promise<void> => {
    try {
      await authorize(req.get('authorization'));
    } catch (err) {
      const { httpStatus, headers, body, error } = toHttpError(err);
      onRefused(error);
      res.set(headers).status(httpStatus).json(body);
      return;
    }
    if (req.method !== 'POST') {
      res.set('allow', 'POST');
      const { httpStatus, body } = toHttpError(
        new InvalidArgumentError('Use POST.', { reason: 'METHOD_NOT_ALLOWED', httpStatus: 405 }),
      );
      res.status(httpStatus).json(body);
      return;
    }
    let request: SweepRequest;
    try {
      if ((req as { bodyError?: string }).bodyError)
        throw new InvalidArgumentError('The request body is not valid JSON.', { reason: 'INVALID_BODY' });
      request = parseSweepRequest(req.body);
    } catch (err) {
      const { httpStatus, body } = toHttpError(err);
      res.status(httpStatus).json(body);
      return;
    }
    const report = await run(request);
    res.status(report.ok ? 200 : 500).json(report);
  };
  // Issue 16: the run's ops and audit lines carry the request's trace (traceparent or
  // X-Cloud-Trace-Context, validated); the slot empties once the handler is done.
  return async (req: Request, res: Response): Promise<void> => {
    const trace = traceContext(projectId, req.get('traceparent'), req.get('x-cloud-trace-context'));
    const slot: RequestTraceSlot = trace ? { trace } : {};
    try {
      await runWithRequestTrace(slot, () => handle(req, res));
    } finally {
      slot.trace = undefined;
    }
  };
}
