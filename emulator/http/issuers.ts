/**
 * The emulated CI issuers (not Google; never counted):
 * - `GET /issuers/NAME/.well-known/openid-configuration` and the JWKS path it names
 *   (NAME = `github-actions`, `gitlab`, `kubernetes`);
 * - test control: `POST /__admin/issuers/NAME/token` with the job's inputs (see
 *   `emulator/issuers/*.ts`: e.g. `{"repository":"acme/app","audience":"..."}`) → `{token}`.
 * - GitHub's runner-side token request, as a job sees it: `POST /__admin/issuers/github-actions/jobs`
 *   with the job's inputs (no `audience`) → `{requestUrl, requestToken}`, the job's
 *   `ACTIONS_ID_TOKEN_REQUEST_URL` / `_TOKEN`; then `GET requestUrl&audience=AUD` with
 *   `Authorization: Bearer requestToken` → `{"count":…, "value": JWT}` (what actions/toolkit's
 *   `getIDToken` reads), 401 without the job's request token. Without `audience` GitHub's default.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { CI_ISSUER_NAMES, type CiIssuerName, type CiIssuers } from '../issuers/ci-issuers.js';
import { GitHubActionsJob } from '../issuers/github-actions.js';
import { GitLabCiJob } from '../issuers/gitlab-ci.js';
import { KubernetesProjectedToken } from '../issuers/kubernetes.js';
import { readJson, sendGoogleError, sendJson } from './respond.js';
import type { Route } from './router.js';

const NAMES = CI_ISSUER_NAMES.join('|');
const DISCOVERY_MAX_AGE_SECONDS = 3600;
const ID_TOKEN_REQUEST_PATH = /^\/issuers\/github-actions\/_apis\/pipelines\/jobs\/([0-9a-f]{32})\/idtoken$/;
const JobRequest = GitHubActionsJob.omit({ audience: true });

export function issuerRoutes(issuers: CiIssuers): Route[] {
  // Inputs are checked here for a 400; the issuer checks (and defaults) them again when it mints.
  const minters = {
    'github-actions': {
      schema: GitHubActionsJob,
      sign: (input: unknown, nowMs?: number) => issuers.gitHubActions(input as GitHubActionsJob, { nowMs }),
    },
    gitlab: {
      schema: GitLabCiJob,
      sign: (input: unknown, nowMs?: number) => issuers.gitLab(input as GitLabCiJob, { nowMs }),
    },
    kubernetes: {
      schema: KubernetesProjectedToken,
      sign: (input: unknown, nowMs?: number) =>
        issuers.kubernetes(input as KubernetesProjectedToken, { nowMs }),
    },
  } satisfies Record<
    CiIssuerName,
    { schema: z.ZodType; sign: (input: unknown, nowMs?: number) => Promise<string> }
  >;
  const cache = { 'Cache-Control': `public, max-age=${DISCOVERY_MAX_AGE_SECONDS}` };
  /** Jobs by id: their request token and inputs. */
  const jobs = new Map<string, { requestToken: string; job: z.input<typeof JobRequest> }>();
  const documents = CI_ISSUER_NAMES.flatMap((name) => {
    const issuer = issuers.byName[name];
    const jwksPath = new URL(issuer.jwksUri).pathname;
    return [
      { path: `/issuers/${name}/.well-known/openid-configuration`, body: () => issuer.discovery() },
      { path: jwksPath, body: () => issuer.jwks() },
    ];
  });
  return [
    {
      path: /^\/__admin\/issuers\/github-actions\/jobs$/,
      endpoint: null,
      async handle({ req, res }) {
        if (req.method !== 'POST') return sendGoogleError(res, 405, 'Use POST.');
        const parsed = JobRequest.safeParse((await readJson(req)) ?? {});
        if (!parsed.success)
          return sendGoogleError(res, 400, `Invalid body: ${z.prettifyError(parsed.error)}`);
        const id = randomBytes(16).toString('hex');
        const requestToken = randomBytes(24).toString('base64url');
        jobs.set(id, { requestToken, job: parsed.data });
        const requestUrl = `${issuers.byName['github-actions'].issuer}/_apis/pipelines/jobs/${id}/idtoken?api-version=2.0`;
        sendJson(res, 200, { requestUrl, requestToken });
      },
    },
    {
      path: ID_TOKEN_REQUEST_PATH,
      endpoint: null,
      async handle({ req, res, match, url }) {
        if (req.method !== 'GET') return sendGoogleError(res, 405, 'Use GET.');
        const entry = jobs.get(match[1]);
        const presented = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
        if (entry === undefined || presented !== entry.requestToken) {
          return sendJson(res, 401, { message: 'Bad credentials' });
        }
        const audience = url.searchParams.get('audience');
        const token = await issuers.gitHubActions({
          ...entry.job,
          ...(audience !== null && audience !== '' ? { audience } : {}),
        });
        sendJson(res, 200, { count: token.length, value: token });
      },
    },
    ...documents.map(({ path, body }): Route => ({
      path: new RegExp(`^${path.replace(/[.]/g, '\\.')}$`),
      endpoint: null,
      handle({ req, res }) {
        if (req.method !== 'GET' && req.method !== 'HEAD') return sendGoogleError(res, 405, 'Use GET.');
        sendJson(res, 200, body(), cache);
      },
    })),
    {
      path: new RegExp(`^/__admin/issuers/(${NAMES})/token$`),
      endpoint: null,
      async handle({ req, res, match }) {
        if (req.method !== 'POST') return sendGoogleError(res, 405, 'Use POST.');
        const name = match[1] as CiIssuerName;
        const body = (await readJson(req)) ?? {};
        const { nowMs, ...input } = (
          typeof body === 'object' && !Array.isArray(body) ? body : { body }
        ) as Record<string, unknown>;
        const mint = minters[name];
        const parsed = mint.schema.safeParse(input);
        if (!parsed.success)
          return sendGoogleError(res, 400, `Invalid body: ${z.prettifyError(parsed.error)}`);
        const time = z.number().int().nonnegative().optional().safeParse(nowMs);
        if (!time.success)
          return sendGoogleError(res, 400, 'Invalid body: nowMs must be epoch milliseconds.');
        sendJson(res, 200, { token: await mint.sign(input, time.data) });
      },
    },
  ];
}
