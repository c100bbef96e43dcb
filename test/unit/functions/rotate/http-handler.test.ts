import type { Request, Response } from '@google-cloud/functions-framework';
import { describe, expect, it } from 'vitest';
import { createRotateHttpHandler } from '../../../../functions/rotate/http-handler.js';
import type { RunReport } from '../../../../functions/rotate/report.js';
import type { SweepRequest } from '../../../../functions/rotate/sweep.js';
import { PermissionDeniedError, UnauthenticatedError, type TvsError } from '../../../../shared/errors.js';

interface Answer {
  status?: number;
  headers: Record<string, string>;
  body?: unknown;
}

function call(
  handler: (req: Request, res: Response) => Promise<void>,
  req: { method: string; authorization?: string; body?: unknown; bodyError?: string },
): Promise<Answer> {
  const answer: Answer = { headers: {} };
  const res = {
    set(name: string | Record<string, string>, value?: string) {
      if (typeof name === 'string') answer.headers[name.toLowerCase()] = String(value);
      else for (const [k, v] of Object.entries(name)) answer.headers[k.toLowerCase()] = v;
      return res;
    },
    status(code: number) {
      answer.status = code;
      return res;
    },
    json(body: unknown) {
      answer.body = body;
      return res;
    },
  };
  const request = {
    method: req.method,
    body: req.body,
    bodyError: req.bodyError,
    get: (name: string) => (name.toLowerCase() === 'authorization' ? req.authorization : undefined),
  };
  return handler(request as unknown as Request, res as unknown as Response).then(() => answer);
}

function setup(opts: { refuse?: TvsError; report?: Partial<RunReport> } = {}): {
  handler: (req: Request, res: Response) => Promise<void>;
  runs: SweepRequest[];
  refused: TvsError[];
  authorized: (string | undefined)[];
} {
  const runs: SweepRequest[] = [];
  const refused: TvsError[] = [];
  const authorized: (string | undefined)[] = [];
  const handler = createRotateHttpHandler({
    run: (request) => {
      runs.push(request);
      return Promise.resolve({ runId: 'r1', dryRun: false, ok: true, secrets: [], ...opts.report });
    },
    authorize: (header) => {
      authorized.push(header);
      return opts.refuse
        ? Promise.reject(opts.refuse)
        : Promise.resolve({ email: 'scheduler@p.iam' } as never);
    },
    onRefused: (e) => refused.push(e),
  });
  return { handler, runs, refused, authorized };
}

describe('rotate over HTTP', () => {
  it('refuses an unauthenticated caller with 401 and WWW-Authenticate before reading the body, and reports it', async () => {
    const err = new UnauthenticatedError('Missing bearer token.', { reason: 'MISSING_TOKEN' });
    const { handler, runs, refused } = setup({ refuse: err });
    const answer = await call(handler, { method: 'POST', body: { force: 'not a boolean' } });
    expect(answer.status).toBe(401);
    expect(answer.headers['www-authenticate']).toBe('Bearer');
    expect(answer.body).toMatchObject({ error: { code: 401, status: 'UNAUTHENTICATED' } });
    expect(refused).toEqual([err]);
    expect(runs).toEqual([]);
  });

  it('refuses a caller who is not an invoker with 403', async () => {
    const { handler, runs } = setup({
      refuse: new PermissionDeniedError('Not an invoker.', { reason: 'NOT_AN_INVOKER' }),
    });
    const answer = await call(handler, { method: 'POST', authorization: 'Bearer x' });
    expect(answer.status).toBe(403);
    expect(runs).toEqual([]);
  });

  it('authenticates first, then answers a method other than POST with 405, Allow: POST and METHOD_NOT_ALLOWED', async () => {
    const { handler, runs, authorized } = setup();
    const answer = await call(handler, { method: 'GET', authorization: 'Bearer t' });
    expect(authorized).toEqual(['Bearer t']);
    expect(answer.status).toBe(405);
    expect(answer.headers.allow).toBe('POST');
    expect(answer.body).toMatchObject({
      error: { code: 405, status: 'INVALID_ARGUMENT', details: [{ reason: 'METHOD_NOT_ALLOWED' }] },
    });
    expect(runs).toEqual([]);
  });

  it('answers a body that is not JSON with 400 INVALID_BODY and runs nothing', async () => {
    const { handler, runs } = setup();
    const answer = await call(handler, { method: 'POST', bodyError: 'Unexpected token' });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: { code: 400, details: [{ reason: 'INVALID_BODY' }] } });
    expect(runs).toEqual([]);
  });

  it.each([
    [{ dryRun: 'yes' }, 'dryRun'],
    [{ secrets: [] }, 'secrets'],
    [{ secrets: ['a/b'] }, 'secrets.0'],
    [{ unknown: true }, 'body'],
  ])('answers the body %j with 400 naming %s', async (body, field) => {
    const { handler, runs } = setup();
    const answer = await call(handler, { method: 'POST', body });
    expect(answer.status).toBe(400);
    expect(JSON.stringify(answer.body)).toContain(field);
    expect(runs).toEqual([]);
  });

  it('runs an empty body as a sweep of everything due and answers 200 with the report', async () => {
    const { handler, runs } = setup();
    const answer = await call(handler, { method: 'POST', body: Buffer.alloc(0) });
    expect(runs).toEqual([{}]);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ runId: 'r1', dryRun: false, ok: true, secrets: [] });
  });

  it('passes the parsed request through and answers 500 when the run failed, so Scheduler retries', async () => {
    const { handler, runs } = setup({ report: { ok: false } });
    const answer = await call(handler, {
      method: 'POST',
      body: { dryRun: true, force: true, secrets: ['api-key', 'projects/p/secrets/sa-key'] },
    });
    expect(runs).toEqual([{ dryRun: true, force: true, secrets: ['api-key', 'projects/p/secrets/sa-key'] }]);
    expect(answer.status).toBe(500);
  });
});
