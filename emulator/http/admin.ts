import { z } from 'zod';
import type { HttpDeps } from './deps.js';
import { readJson, sendGoogleError, sendJson, sendNoContent } from './respond.js';
import type { Route } from './router.js';

/** A fault rule as posted to `/__admin/faults`; `times` defaults to 1, `"Infinity"` = until reset. */
const FaultRuleBody = z.strictObject({
  endpoint: z.string().min(1),
  times: z.union([z.number().int().positive(), z.literal('Infinity')]).default(1),
  status: z.number().int().min(100).max(599).optional(),
  retryAfterSeconds: z.number().int().nonnegative().optional(),
  latencyMs: z.number().nonnegative().optional(),
  reset: z.boolean().optional(),
  rawBody: z.string().optional(),
});

const DefaultServiceAccountBody = z.strictObject({ email: z.string().min(1) });

/**
 * Test-control API (not Google, never counted): `POST /__admin/faults`, `GET /__admin/counters`,
 * `POST /__admin/reset`, `POST /__admin/metadata/default-service-account`.
 */
export function adminRoutes(deps: HttpDeps): Route[] {
  const { faults, state } = deps;
  return [
    {
      path: /^\/__admin\/faults$/,
      endpoint: null,
      async handle({ req, res }) {
        if (req.method !== 'POST') return sendGoogleError(res, 405, 'Use POST.');
        const parsed = FaultRuleBody.safeParse(await readJson(req));
        if (!parsed.success)
          return sendGoogleError(res, 400, `Invalid fault rule: ${z.prettifyError(parsed.error)}`);
        const { times, ...rule } = parsed.data;
        faults.inject({ ...rule, times: times === 'Infinity' ? Infinity : times });
        sendNoContent(res);
      },
    },
    {
      path: /^\/__admin\/counters$/,
      endpoint: null,
      handle({ req, res }) {
        if (req.method !== 'GET') return sendGoogleError(res, 405, 'Use GET.');
        sendJson(res, 200, faults.snapshot());
      },
    },
    {
      path: /^\/__admin\/reset$/,
      endpoint: null,
      handle({ req, res }) {
        if (req.method !== 'POST') return sendGoogleError(res, 405, 'Use POST.');
        faults.reset();
        sendNoContent(res);
      },
    },
    {
      path: /^\/__admin\/metadata\/default-service-account$/,
      endpoint: null,
      async handle({ req, res }) {
        if (req.method !== 'POST') return sendGoogleError(res, 405, 'Use POST.');
        const parsed = DefaultServiceAccountBody.safeParse(await readJson(req));
        if (!parsed.success)
          return sendGoogleError(res, 400, `Invalid body: ${z.prettifyError(parsed.error)}`);
        const account = state.serviceAccounts.get(parsed.data.email);
        if (!account)
          return sendGoogleError(res, 404, `Service account ${parsed.data.email} does not exist.`);
        state.metadata.defaultServiceAccount = account.email;
        sendNoContent(res);
      },
    },
  ];
}
