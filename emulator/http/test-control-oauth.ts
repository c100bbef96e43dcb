/**
 * Test-control routes of the user-consent OAuth flow (not Google, never counted):
 * - `POST /__admin/oauth/clients` `{redirectUris, clientId?, clientSecret?, displayName?}` →
 *   `{clientId, clientSecret, redirectUris, displayName}`; `GET` lists them (without secrets)
 * - `POST /__admin/oauth/users` `{email, sub?, emailVerified?, name?}` → the user; `GET` lists them
 * - `POST /__admin/oauth/consent` `{user, decision: "approve"|"deny", scopes?, clientId?}` → 204:
 *   queues the answer of the next authorization request (of that client, when given); `user` is a
 *   sub or an email; `scopes` = approve only these (sign-in scopes stay granted).
 *   `GET` lists queued answers, `DELETE` drops them.
 * - `GET /__admin/oauth/grants?clientId=&user=` → `{grants: [{id, clientId, sub, scopes, revoked, liveRefreshTokens}]}`
 *   (counts, never token values)
 * - `POST /__admin/oauth/revoke-grant` `{clientId, user}` → 204: the user removes the app's access
 *   in their Google Account (the next refresh answers `invalid_grant`); 404 when there is no live grant
 */
import { z } from 'zod';
import { StateError } from '../state/state-error.js';
import type { HttpDeps } from './deps.js';
import { readJson, sendGoogleError, sendJson, sendNoContent } from './respond.js';
import type { RequestContext, Route } from './router.js';

const ClientBody = z.strictObject({
  redirectUris: z.array(z.string()).min(1),
  clientId: z.string().optional(),
  clientSecret: z.string().min(1).optional(),
  displayName: z.string().optional(),
});
const UserBody = z.strictObject({
  email: z.string(),
  sub: z.string().optional(),
  emailVerified: z.boolean().optional(),
  name: z.string().optional(),
});
const ConsentBody = z.strictObject({
  user: z.string().min(1),
  decision: z.enum(['approve', 'deny']),
  scopes: z.array(z.string().min(1)).optional(),
  clientId: z.string().min(1).optional(),
});
const RevokeGrantBody = z.strictObject({ clientId: z.string().min(1), user: z.string().min(1) });

async function parse<T>(ctx: RequestContext, schema: z.ZodType<T>): Promise<T | undefined> {
  const parsed = schema.safeParse((await readJson(ctx.req)) ?? {});
  if (parsed.success) return parsed.data;
  sendGoogleError(ctx.res, 400, `Invalid body: ${z.prettifyError(parsed.error)}`);
  return undefined;
}

/** Runs a state change, answering a refused one (StateError) as 400 / 409 / 404. */
function guarded(ctx: RequestContext, change: () => void): void {
  try {
    change();
  } catch (error) {
    if (!(error instanceof StateError)) throw error;
    const status = error.code === 'ALREADY_EXISTS' ? 409 : error.code === 'NOT_FOUND' ? 404 : 400;
    sendGoogleError(ctx.res, status, error.message);
  }
}

export function testControlOAuthRoutes(deps: HttpDeps): Route[] {
  const { state } = deps;
  return [
    {
      path: /^\/__admin\/oauth\/clients$/,
      endpoint: null,
      async handle(ctx) {
        if (ctx.req.method === 'GET') {
          const clients = state.oauthClients.list().map(({ clientId, displayName, redirectUris }) => ({
            clientId,
            displayName,
            redirectUris,
          }));
          return sendJson(ctx.res, 200, { clients });
        }
        if (ctx.req.method !== 'POST') return sendGoogleError(ctx.res, 405, 'Use GET or POST.');
        const body = await parse(ctx, ClientBody);
        if (!body) return;
        guarded(ctx, () => {
          const { clientId, clientSecret, displayName, redirectUris } = state.oauthClients.create(body);
          sendJson(ctx.res, 200, { clientId, clientSecret, displayName, redirectUris });
        });
      },
    },
    {
      path: /^\/__admin\/oauth\/users$/,
      endpoint: null,
      async handle(ctx) {
        if (ctx.req.method === 'GET') return sendJson(ctx.res, 200, { users: state.oauthUsers.list() });
        if (ctx.req.method !== 'POST') return sendGoogleError(ctx.res, 405, 'Use GET or POST.');
        const body = await parse(ctx, UserBody);
        if (!body) return;
        guarded(ctx, () => sendJson(ctx.res, 200, state.oauthUsers.create(body)));
      },
    },
    {
      path: /^\/__admin\/oauth\/consent$/,
      endpoint: null,
      async handle(ctx) {
        if (ctx.req.method === 'GET') return sendJson(ctx.res, 200, { answers: state.consent.pending() });
        if (ctx.req.method === 'DELETE') {
          state.consent.clear();
          return sendNoContent(ctx.res);
        }
        if (ctx.req.method !== 'POST') return sendGoogleError(ctx.res, 405, 'Use GET, POST or DELETE.');
        const body = await parse(ctx, ConsentBody);
        if (!body) return;
        if (!state.oauthUsers.find(body.user))
          return sendGoogleError(ctx.res, 404, `No emulated user matches ${body.user}.`);
        state.consent.push(body);
        sendNoContent(ctx.res);
      },
    },
    {
      path: /^\/__admin\/oauth\/grants$/,
      endpoint: null,
      handle(ctx) {
        if (ctx.req.method !== 'GET') return sendGoogleError(ctx.res, 405, 'Use GET.');
        const clientId = ctx.url.searchParams.get('clientId');
        const hint = ctx.url.searchParams.get('user');
        const sub = hint === null ? undefined : state.oauthUsers.find(hint)?.sub;
        const grants = state.userGrants
          .listGrants()
          .filter((g) => (clientId === null || g.clientId === clientId) && (hint === null || g.sub === sub))
          .map((g) => ({
            id: g.id,
            clientId: g.clientId,
            sub: g.sub,
            scopes: [...g.scopes],
            revoked: g.revoked,
            liveRefreshTokens: state.userGrants.liveRefreshTokens(g.id).length,
          }));
        sendJson(ctx.res, 200, { grants });
      },
    },
    {
      path: /^\/__admin\/oauth\/revoke-grant$/,
      endpoint: null,
      async handle(ctx) {
        if (ctx.req.method !== 'POST') return sendGoogleError(ctx.res, 405, 'Use POST.');
        const body = await parse(ctx, RevokeGrantBody);
        if (!body) return;
        const user = state.oauthUsers.find(body.user);
        const grant = user ? state.userGrants.current(body.clientId, user.sub) : undefined;
        if (!grant)
          return sendGoogleError(ctx.res, 404, `No live grant of ${body.user} to ${body.clientId}.`);
        state.userGrants.revokeGrant(grant.id);
        sendNoContent(ctx.res);
      },
    },
  ];
}
