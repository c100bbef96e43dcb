import type { ServerResponse } from 'node:http';
import type { EmulatorState } from '../state/emulator-state.js';
import type { ServiceAccount } from '../state/service-accounts.js';
import type { HttpDeps } from './deps.js';
import { sendJson, sendText } from './respond.js';
import type { RequestContext, Route } from './router.js';

/** Header required on requests to, and present on responses from, the metadata server. */
const FLAVOR = { 'Metadata-Flavor': 'Google' } as const;

/** What the metadata server answers with: plain text, or JSON for tokens and `recursive=true`. */
const TEXT = 'application/text';

const NOT_FOUND_HTML =
  '<!DOCTYPE html>\n<html lang=en><title>Error 404 (Not Found)!!1</title><p><b>404.</b> That’s an error.</html>\n';

/** Emulated instance facts (a Cloud Functions gen2 / Cloud Run instance). */
const INSTANCE = { id: '4520031799277581759', zone: 'us-central1-1', region: 'us-central1' } as const;

/**
 * Endpoint name of a metadata path, e.g. `metadata.token`, `metadata.identity`,
 * `metadata.email`, `metadata.project`, `metadata.instance`, `metadata.universe`.
 */
export function metadataEndpoint(subpath: string): string {
  const parts = subpath.split('/').filter((p) => p !== '');
  if (parts[0] === 'project') return 'metadata.project';
  if (parts[0] === 'universe') return 'metadata.universe';
  if (parts[0] === 'instance' && parts[1] === 'service-accounts') {
    if (parts.length <= 3) return 'metadata.serviceAccounts';
    return `metadata.${parts[3]}`;
  }
  if (parts[0] === 'instance') return 'metadata.instance';
  return parts.length === 0 ? 'metadata.root' : 'metadata.other';
}

/** GCE metadata server under `/computeMetadata/v1/` (enough for gcp-metadata / google-auth-library). */
export function metadataRoutes(deps: HttpDeps): Route[] {
  const { state } = deps;
  return [
    {
      path: /^\/computeMetadata\/v1(\/.*)?$/,
      endpoint: ({ match }) => metadataEndpoint(match[1] ?? ''),
      headers: FLAVOR,
      async handle(ctx) {
        const { req, res } = ctx;
        if (req.headers['metadata-flavor'] !== 'Google') {
          sendText(res, 403, 'Missing required header "Metadata-Flavor": "Google"\n');
          return;
        }
        // The real server refuses proxied requests (SSRF defence).
        if (req.headers['x-forwarded-for'] !== undefined) {
          sendText(res, 403, 'Request forbidden: X-Forwarded-For header present\n');
          return;
        }
        if (req.method !== 'GET') {
          sendText(res, 405, 'Method Not Allowed\n');
          return;
        }
        await answer(state, ctx);
      },
    },
  ];
}

async function answer(state: EmulatorState, ctx: RequestContext): Promise<void> {
  const { res, url } = ctx;
  const subpath = ctx.match[1] ?? '';
  const recursive = url.searchParams.get('recursive') === 'true';
  const parts = subpath.split('/').filter((p) => p !== '');
  const key = parts.join('/');
  const isDir = subpath === '' || subpath.endsWith('/');

  switch (key) {
    case '':
      return listing(res, ['instance/', 'project/', 'universe/']);
    case 'project':
      return recursive
        ? sendJson(res, 200, projectJson(state))
        : listing(res, ['numeric-project-id', 'project-id']);
    case 'project/project-id':
      return sendText(res, 200, state.projectId, TEXT);
    case 'project/numeric-project-id':
      return sendText(res, 200, state.projectNumber, TEXT);
    case 'universe':
      return listing(res, ['universe-domain']);
    case 'universe/universe-domain':
    case 'universe/universe_domain':
      return sendText(res, 200, 'googleapis.com', TEXT);
    case 'instance':
      return recursive
        ? sendJson(res, 200, instanceJson(state))
        : listing(res, ['id', 'region', 'service-accounts/', 'zone']);
    case 'instance/id':
      return sendText(res, 200, INSTANCE.id, TEXT);
    case 'instance/zone':
      return sendText(res, 200, `projects/${state.projectNumber}/zones/${INSTANCE.zone}`, TEXT);
    case 'instance/region':
      return sendText(res, 200, `projects/${state.projectNumber}/regions/${INSTANCE.region}`, TEXT);
    case 'instance/service-accounts': {
      const account = defaultAccount(state);
      if (recursive) return sendJson(res, 200, account ? serviceAccountsJson(state, account) : {});
      return listing(res, account ? ['default/', `${account.email}/`] : []);
    }
  }

  if (parts[0] === 'instance' && parts[1] === 'service-accounts' && parts.length >= 3 && parts.length <= 4) {
    const account = resolveAccount(state, parts[2]);
    if (!account) return notFound(res);
    const leaf = parts[3];
    if (leaf === undefined) {
      if (recursive) return sendJson(res, 200, serviceAccountJson(state, account));
      return isDir ? listing(res, ['aliases', 'email', 'identity', 'scopes', 'token']) : notFound(res);
    }
    return answerServiceAccountLeaf(state, ctx, account, leaf);
  }
  return notFound(res);
}

async function answerServiceAccountLeaf(
  state: EmulatorState,
  ctx: RequestContext,
  account: ServiceAccount,
  leaf: string,
): Promise<void> {
  const { res, url } = ctx;
  switch (leaf) {
    case 'email':
      return sendText(res, 200, account.email, TEXT);
    case 'aliases':
      return sendText(res, 200, 'default', TEXT);
    case 'scopes':
      return sendText(res, 200, `${state.metadata.defaultScopes.join('\n')}\n`, TEXT);
    case 'token': {
      const requested = (url.searchParams.get('scopes') ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
      const token = state.tokens.issue({
        email: account.email,
        scopes: requested.length > 0 ? requested : state.metadata.defaultScopes,
        issuedBy: 'metadata.token',
      });
      return sendJson(res, 200, {
        access_token: token.value,
        expires_in: Math.round((token.expiresAtMs - token.issuedAtMs) / 1000),
        token_type: 'Bearer',
      });
    }
    case 'identity': {
      const audience = url.searchParams.get('audience');
      if (!audience) return sendText(res, 400, 'non-empty audience parameter required\n');
      // GCE only includes the email claims in `format=full` tokens.
      const includeEmail = url.searchParams.get('format') === 'full';
      const idToken = await state.signingKeys.signIdToken({ audience, subject: account, includeEmail });
      return sendText(res, 200, idToken, 'text/html; charset=utf-8');
    }
    default:
      return notFound(res);
  }
}

function defaultAccount(state: EmulatorState): ServiceAccount | undefined {
  const email = state.metadata.defaultServiceAccount;
  return email === undefined ? undefined : state.serviceAccounts.get(email);
}

/** The metadata server only knows its attached account, as `default` or by email. */
function resolveAccount(state: EmulatorState, name: string): ServiceAccount | undefined {
  const account = defaultAccount(state);
  if (!account) return undefined;
  return name === 'default' || name.toLowerCase() === account.email ? account : undefined;
}

function serviceAccountJson(state: EmulatorState, account: ServiceAccount): Record<string, unknown> {
  return { aliases: ['default'], email: account.email, scopes: [...state.metadata.defaultScopes] };
}

function serviceAccountsJson(state: EmulatorState, account: ServiceAccount): Record<string, unknown> {
  const json = serviceAccountJson(state, account);
  return { default: json, [account.email]: json };
}

function projectJson(state: EmulatorState): Record<string, unknown> {
  return { numericProjectId: Number(state.projectNumber), projectId: state.projectId };
}

function instanceJson(state: EmulatorState): Record<string, unknown> {
  const account = defaultAccount(state);
  return {
    id: INSTANCE.id,
    region: `projects/${state.projectNumber}/regions/${INSTANCE.region}`,
    serviceAccounts: account ? serviceAccountsJson(state, account) : {},
    zone: `projects/${state.projectNumber}/zones/${INSTANCE.zone}`,
  };
}

function listing(res: ServerResponse, entries: string[]): void {
  sendText(res, 200, entries.map((e) => `${e}\n`).join(''), TEXT);
}

function notFound(res: ServerResponse): void {
  sendText(res, 404, NOT_FOUND_HTML, 'text/html; charset=UTF-8');
}
