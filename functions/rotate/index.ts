/**
 * Cloud Functions entry points `rotate` (HTTP, Cloud Scheduler) and `rotateOnEvent`
 * (CloudEvent, Secret Manager rotation notices): configuration, wiring, registration.
 */
import * as functions from '@google-cloud/functions-framework';
import { loadRotateConfig } from '../../shared/rotate-config.js';
import { createRotateFunction } from './create-rotate-function.js';

const rotation = createRotateFunction(loadRotateConfig());
functions.http('rotate', (req, res) => rotation.http(req, res));
functions.cloudEvent('rotateOnEvent', async (event: functions.CloudEvent<unknown>) => {
  await rotation.event(event);
});
