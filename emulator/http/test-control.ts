/**
 * Test-control routes for the pieces added with IAM keys, API keys and Pub/Sub push (not
 * Google, never counted):
 * - `POST /__admin/pubsub/subscriptions` `{topic, pushEndpoint, id?, copies?, maxAttempts?, initialBackoffMs?, maxBackoffMs?, oidcToken?}` → `{name, topic, pushEndpoint}`
 * - `GET /__admin/pubsub/subscriptions`, `GET /__admin/pubsub/attempts`
 * - `POST /__admin/pubsub/rotate-due` `{now?}` → `{secrets: [...]}` (Secret Manager's rotation sweep)
 * - `POST /__admin/org-policy` `{keyCreationDisabled?, keyCreationDisabledFor?: [email]}` → 204
 * - `POST /__admin/apikeys/operations` `{pollsUntilDone}` → 204
 */
import { z } from 'zod';
import type { PubSubPush } from '../pubsub-push.js';
import type { HttpDeps } from './deps.js';
import { readJson, sendGoogleError, sendJson, sendNoContent } from './respond.js';
import type { RequestContext, Route } from './router.js';

const SubscriptionBody = z.strictObject({
  topic: z.string().min(1),
  pushEndpoint: z.url(),
  id: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9._~+%-]{2,254}$/)
    .optional(),
  copies: z.number().int().min(1).max(10).optional(),
  maxAttempts: z.number().int().min(1).max(100).optional(),
  initialBackoffMs: z.number().int().min(0).optional(),
  maxBackoffMs: z.number().int().min(0).optional(),
  oidcToken: z
    .strictObject({ serviceAccountEmail: z.string().min(1), audience: z.string().optional() })
    .optional(),
});
const RotateDueBody = z.strictObject({ now: z.iso.datetime().optional() });
const OrgPolicyBody = z.strictObject({
  keyCreationDisabled: z.boolean().optional(),
  keyCreationDisabledFor: z.array(z.string()).optional(),
});
const OperationsBody = z.strictObject({ pollsUntilDone: z.number().int().min(0).max(100) });

async function parse<T>(ctx: RequestContext, schema: z.ZodType<T>): Promise<T | undefined> {
  const parsed = schema.safeParse((await readJson(ctx.req)) ?? {});
  if (parsed.success) return parsed.data;
  sendGoogleError(ctx.res, 400, `Invalid body: ${z.prettifyError(parsed.error)}`);
  return undefined;
}

function only(method: string, ctx: RequestContext): boolean {
  if (ctx.req.method === method) return true;
  sendGoogleError(ctx.res, 405, `Use ${method}.`);
  return false;
}

export function testControlRoutes(deps: HttpDeps, pubsub: PubSubPush): Route[] {
  const { state } = deps;
  return [
    {
      path: /^\/__admin\/pubsub\/subscriptions$/,
      endpoint: null,
      async handle(ctx) {
        if (ctx.req.method === 'GET') return sendJson(ctx.res, 200, { subscriptions: pubsub.list() });
        if (!only('POST', ctx)) return;
        const body = await parse(ctx, SubscriptionBody);
        if (!body) return;
        const { topic, pushEndpoint, ...options } = body;
        try {
          const subscription = pubsub.subscribe(topic, pushEndpoint, options);
          sendJson(ctx.res, 200, {
            name: subscription.name,
            topic: subscription.topic,
            pushEndpoint: subscription.pushEndpoint,
          });
        } catch (error) {
          sendGoogleError(ctx.res, 400, error instanceof Error ? error.message : String(error));
        }
      },
    },
    {
      path: /^\/__admin\/pubsub\/attempts$/,
      endpoint: null,
      handle(ctx) {
        if (only('GET', ctx)) sendJson(ctx.res, 200, { attempts: pubsub.attempts });
      },
    },
    {
      path: /^\/__admin\/pubsub\/rotate-due$/,
      endpoint: null,
      async handle(ctx) {
        if (!only('POST', ctx)) return;
        const body = await parse(ctx, RotateDueBody);
        if (body)
          sendJson(ctx.res, 200, {
            secrets: pubsub.publishRotateDue(body.now ? new Date(body.now) : new Date()),
          });
      },
    },
    {
      path: /^\/__admin\/org-policy$/,
      endpoint: null,
      async handle(ctx) {
        if (!only('POST', ctx)) return;
        const body = await parse(ctx, OrgPolicyBody);
        if (!body) return;
        if (body.keyCreationDisabled !== undefined)
          state.orgPolicy.keyCreationDisabled = body.keyCreationDisabled;
        if (body.keyCreationDisabledFor) {
          state.orgPolicy.keyCreationDisabledFor.clear();
          for (const email of body.keyCreationDisabledFor)
            state.orgPolicy.keyCreationDisabledFor.add(email.toLowerCase());
        }
        sendNoContent(ctx.res);
      },
    },
    {
      path: /^\/__admin\/apikeys\/operations$/,
      endpoint: null,
      async handle(ctx) {
        if (!only('POST', ctx)) return;
        const body = await parse(ctx, OperationsBody);
        if (!body) return;
        state.operations.pollsUntilDone = body.pollsUntilDone;
        sendNoContent(ctx.res);
      },
    },
  ];
}
