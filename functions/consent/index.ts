/**
 * Cloud Functions entry point `consent`: configuration, wiring, registration. Nothing else.
 */
import * as functions from '@google-cloud/functions-framework';
import { installBodyParserGuard } from '../../shared/http/body-parser-guard.js';
import { loadConsentConfig } from './consent-config.js';
import { createConsentFunction } from './create-consent-function.js';

// Forms only, and small ones: bodies are capped while they are read.
installBodyParserGuard(64 * 1024);
const consentFunction = await createConsentFunction(loadConsentConfig());
functions.http('consent', (req, res) => consentFunction.handler(req, res));
