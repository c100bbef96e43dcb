/**
 * `npm run openapi`: writes docs/openapi.yaml from the zod schemas of the token function and the
 * hand-written parts in scripts/openapi/. test/unit/scripts/openapi.test.ts fails when the
 * committed file differs from what this generates.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderOpenApi } from './openapi/document.js';

export const OPENAPI_FILE = fileURLToPath(new URL('../docs/openapi.yaml', import.meta.url));

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(OPENAPI_FILE, renderOpenApi());
  console.log(`wrote ${OPENAPI_FILE}`);
}
