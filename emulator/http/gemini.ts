/**
 * Gemini `generateContent` in both of Google's flavours, on Google's paths:
 * - Gemini API (`generativelanguage.googleapis.com`): `POST /{v1,v1beta,v1alpha}/models/{m}:generateContent`
 *   (and `:streamGenerateContent`), `GET /{version}/models[/{m}]`; API key in `x-goog-api-key`
 *   or `?key=`, or an OAuth bearer token. Endpoints `gemini.generateContent`,
 *   `gemini.streamGenerateContent`, `gemini.listModels`, `gemini.getModel`.
 * - Vertex AI (`{location}-aiplatform.googleapis.com`):
 *   `POST /{v1,v1beta1}/projects/{p}/locations/{l}/publishers/google/models/{m}:generateContent`
 *   (and `:streamGenerateContent`); bearer token with cloud-platform scope. Endpoints
 *   `vertex.generateContent`, `vertex.streamGenerateContent`.
 */
import type { ServerResponse } from 'node:http';
import { apiKeyOf, checkApiKey, unregisteredCaller } from './api-key-check.js';
import { bearerToken, CLOUD_PLATFORM_SCOPE, requireAccessToken, type ApiMethod } from './bearer-auth.js';
import type { HttpDeps } from './deps.js';
import {
  generateContentResponse,
  KNOWN_MODELS,
  modelJson,
  parseGenerateContentRequest,
} from './gemini-content.js';
import { readJsonObject } from './read-json-object.js';
import { sendGoogleError, sendJson } from './respond.js';
import type { RequestContext, Route } from './router.js';
import { answerRpc, errorInfo, RpcError } from './rpc-error.js';

const GEMINI_SERVICE = 'generativelanguage.googleapis.com';
const VERTEX_SERVICE = 'aiplatform.googleapis.com';
const GENERATIVE_LANGUAGE_SCOPE = 'https://www.googleapis.com/auth/generative-language';
const GEMINI_VERSIONS = '(v1|v1beta|v1alpha)';

const GEMINI_GENERATE = new RegExp(
  `^/${GEMINI_VERSIONS}/models/([^/:]+):(generateContent|streamGenerateContent)$`,
);
const GEMINI_MODELS = new RegExp(`^/${GEMINI_VERSIONS}/models(?:/([^/:]+))?$`);
const VERTEX_GENERATE =
  /^\/(v1|v1beta1)\/projects\/([^/]+)\/locations\/([^/]+)\/publishers\/google\/models\/([^/:]+):(generateContent|streamGenerateContent)$/;

const VERTEX_API_KEY_MESSAGE =
  'API keys are not supported by this API. Expected OAuth2 access token or other authentication credentials that assert a principal. See https://cloud.google.com/docs/authentication';

/** Gemini API and Vertex AI generateContent routes. */
export function geminiRoutes(deps: HttpDeps): Route[] {
  const { state } = deps;

  /** Key or bearer token, as the Gemini API accepts either. */
  function authenticateGemini(ctx: RequestContext, api: ApiMethod): void {
    const key = apiKeyOf(ctx.req, ctx.url);
    if (key !== undefined) {
      checkApiKey(state.apiKeys, state.projectNumber, key, ctx.req, api);
      return;
    }
    if (bearerToken(ctx.req) !== undefined) {
      requireAccessToken(state.tokens, ctx.req, api, [CLOUD_PLATFORM_SCOPE, GENERATIVE_LANGUAGE_SCOPE]);
      return;
    }
    throw unregisteredCaller();
  }

  async function generate(
    ctx: RequestContext,
    model: string,
    notFound: () => RpcError,
    stream: boolean,
  ): Promise<void> {
    const body = await readJsonObject(ctx.req);
    const contents = parseGenerateContentRequest(body);
    if (!KNOWN_MODELS.includes(model)) throw notFound();
    const answer = generateContentResponse(contents, model);
    if (stream) sendServerSentEvent(ctx.res, answer);
    else sendJson(ctx.res, 200, answer);
  }

  return [
    {
      path: GEMINI_GENERATE,
      endpoint: ({ match }) => `gemini.${match[3]}`,
      handle: (ctx) =>
        answerRpc(ctx.res, async () => {
          const [, version, model, verb] = ctx.match;
          if (ctx.req.method !== 'POST') return notFoundUrl(ctx);
          const rpc = verb === 'generateContent' ? 'GenerateContent' : 'StreamGenerateContent';
          authenticateGemini(ctx, {
            service: GEMINI_SERVICE,
            method: `google.ai.generativelanguage.${version}.GenerativeService.${rpc}`,
          });
          const notFound = (): RpcError =>
            new RpcError(
              'NOT_FOUND',
              `models/${model} is not found for API version ${version}, or is not supported for ${verb}. Call ListModels to see the list of available models and their supported methods.`,
            );
          await generate(ctx, decodeURIComponent(model), notFound, verb === 'streamGenerateContent');
        }),
    },
    {
      path: GEMINI_MODELS,
      endpoint: ({ match }) => (match[2] === undefined ? 'gemini.listModels' : 'gemini.getModel'),
      handle: (ctx) =>
        answerRpc(ctx.res, () => {
          const [, version, model] = ctx.match;
          if (ctx.req.method !== 'GET') return notFoundUrl(ctx);
          const rpc = model === undefined ? 'ListModels' : 'GetModel';
          authenticateGemini(ctx, {
            service: GEMINI_SERVICE,
            method: `google.ai.generativelanguage.${version}.ModelService.${rpc}`,
          });
          if (model === undefined) return sendJson(ctx.res, 200, { models: KNOWN_MODELS.map(modelJson) });
          const id = decodeURIComponent(model);
          if (!KNOWN_MODELS.includes(id))
            throw new RpcError(
              'NOT_FOUND',
              `models/${id} is not found for API version ${version}, or is not supported for getModel.`,
            );
          sendJson(ctx.res, 200, modelJson(id));
        }),
    },
    {
      path: VERTEX_GENERATE,
      endpoint: ({ match }) => `vertex.${match[5]}`,
      handle: (ctx) =>
        answerRpc(ctx.res, async () => {
          const [, version, projectSegment, locationSegment, model, verb] = ctx.match;
          if (ctx.req.method !== 'POST') return notFoundUrl(ctx);
          const rpc = verb === 'generateContent' ? 'GenerateContent' : 'StreamGenerateContent';
          const api = {
            service: VERTEX_SERVICE,
            method: `google.cloud.aiplatform.${version}.PredictionService.${rpc}`,
          };
          if (bearerToken(ctx.req) === undefined && apiKeyOf(ctx.req, ctx.url) !== undefined) {
            throw new RpcError('UNAUTHENTICATED', VERTEX_API_KEY_MESSAGE, [
              errorInfo('CREDENTIALS_MISSING', { service: api.service, method: api.method }),
            ]);
          }
          requireAccessToken(state.tokens, ctx.req, api, [CLOUD_PLATFORM_SCOPE]);
          const project = decodeURIComponent(projectSegment);
          const location = decodeURIComponent(locationSegment);
          const id = decodeURIComponent(model);
          const resource = `projects/${project}/locations/${location}/publishers/google/models/${id}`;
          if (project !== state.projectId && project !== state.projectNumber) {
            const permission = 'aiplatform.endpoints.predict';
            throw new RpcError(
              'PERMISSION_DENIED',
              `Permission '${permission}' denied on resource '//aiplatform.googleapis.com/${resource}' (or it may not exist).`,
              [errorInfo('IAM_PERMISSION_DENIED', { permission, resource }, 'aiplatform.googleapis.com')],
            );
          }
          const notFound = (): RpcError =>
            new RpcError(
              'NOT_FOUND',
              `Publisher Model \`${resource}\` was not found or your project does not have access to it. Please ensure you are using a valid model version. For more information, see: https://cloud.google.com/vertex-ai/generative-ai/docs/learn/model-versions`,
            );
          await generate(ctx, id, notFound, verb === 'streamGenerateContent');
        }),
    },
  ];
}

function notFoundUrl(ctx: RequestContext): void {
  sendGoogleError(ctx.res, 404, `The requested URL ${ctx.url.pathname} was not found on this server.`);
}

/** `streamGenerateContent?alt=sse`: the whole answer as one server-sent event. */
function sendServerSentEvent(res: ServerResponse, chunk: Record<string, unknown>): void {
  const payload = `data: ${JSON.stringify(chunk)}\r\n\r\n`;
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Content-Length': Buffer.byteLength(payload) });
  res.end(payload);
}
