/**
 * The model side of the emulated Gemini: the models it knows, request validation in Google's
 * wording, and a deterministic `GenerateContentResponse` (`echo: <first user text>`).
 */
import { RpcError } from './rpc-error.js';

/** Models the emulator serves (Gemini API ids; Vertex accepts the same publisher models). */
export const KNOWN_MODELS: readonly string[] = [
  'gemini-2.5-pro',
  'gemini-2.5-flash',
  'gemini-2.5-flash-lite',
  'gemini-2.0-flash',
  'gemini-2.0-flash-001',
  'gemini-2.0-flash-lite',
  'gemini-2.0-flash-lite-001',
];

const INPUT_TOKEN_LIMIT = 1_048_576;
const OUTPUT_TOKEN_LIMIT = 65_536;

/** A `Model` resource of the Gemini API's `models.list` / `models.get`. */
export function modelJson(model: string): Record<string, unknown> {
  return {
    name: `models/${model}`,
    version: model.replace(/^gemini-/, ''),
    displayName: model
      .split('-')
      .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
      .join(' '),
    description: 'Served by the local emulator: echoes the first user text.',
    inputTokenLimit: INPUT_TOKEN_LIMIT,
    outputTokenLimit: OUTPUT_TOKEN_LIMIT,
    supportedGenerationMethods: ['generateContent', 'countTokens'],
  };
}

interface Part {
  text?: unknown;
}
interface Content {
  role?: unknown;
  parts?: unknown;
}

/**
 * Validates a GenerateContentRequest body the way Google words its complaints
 * (`* GenerateContentRequest.contents: contents is not specified`).
 */
export function parseGenerateContentRequest(body: Record<string, unknown>): Content[] {
  const contents = body.contents;
  if (contents === undefined || (Array.isArray(contents) && contents.length === 0)) {
    throw new RpcError('INVALID_ARGUMENT', '* GenerateContentRequest.contents: contents is not specified\n');
  }
  if (
    !Array.isArray(contents) ||
    contents.some((c) => typeof c !== 'object' || c === null || Array.isArray(c))
  ) {
    throw new RpcError(
      'INVALID_ARGUMENT',
      `Invalid JSON payload received. Invalid value at 'contents': expected a list of Content objects.`,
    );
  }
  const list = contents as Content[];
  list.forEach((content, i) => {
    if (!Array.isArray(content.parts) || content.parts.length === 0) {
      throw new RpcError(
        'INVALID_ARGUMENT',
        `* GenerateContentRequest.contents[${i}].parts: contents.parts must not be empty.\n`,
      );
    }
  });
  return list;
}

/** Rough token count Google documents for Gemini: about four characters a token. */
function tokens(text: string): number {
  return text === '' ? 0 : Math.ceil(text.length / 4);
}

function textsOf(content: Content): string[] {
  return (content.parts as Part[]).flatMap((p) => (typeof p.text === 'string' ? [p.text] : []));
}

/** The deterministic answer to a valid request. */
export function generateContentResponse(contents: Content[], model: string): Record<string, unknown> {
  const userContents = contents.filter((c) => c.role === undefined || c.role === 'user');
  const firstText = userContents.flatMap(textsOf)[0] ?? '';
  const answer = `echo: ${firstText}`;
  const promptTokenCount = contents.flatMap(textsOf).reduce((sum, t) => sum + tokens(t), 0);
  const candidatesTokenCount = tokens(answer);
  return {
    candidates: [{ content: { role: 'model', parts: [{ text: answer }] }, finishReason: 'STOP', index: 0 }],
    usageMetadata: {
      promptTokenCount,
      candidatesTokenCount,
      totalTokenCount: promptTokenCount + candidatesTokenCount,
    },
    modelVersion: model,
  };
}
