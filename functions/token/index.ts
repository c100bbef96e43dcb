/**
 * Cloud Functions entry point `token`: configuration, wiring, registration. Nothing else.
 */
import * as functions from '@google-cloud/functions-framework';
import { loadTokenServiceConfig } from '../../shared/config.js';
import { installBodyParserGuard } from '../../shared/http/body-parser-guard.js';
import { MAX_BODY_BYTES } from './http/request-context.js';
import { createTokenFunction } from './create-token-function.js';

installBodyParserGuard(MAX_BODY_BYTES);
const tokenFunction = await createTokenFunction(loadTokenServiceConfig());
functions.http('token', (req, res) => tokenFunction.handler(req, res));
