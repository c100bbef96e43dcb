/**
 * `npm start`: the whole local stack on the emulator, no Google account needed.
 * Ports: TOKEN_PORT (8080), ROTATE_PORT (8081), EMULATOR_HTTP_PORT (8085), EMULATOR_GRPC_PORT (8086); HOST (127.0.0.1).
 * EMULATOR_SEED (a seed JSON) and ROTATION_BINDINGS_FILE (its rotation binding JSON) replace the demo's;
 * TVS_POLICY_FILE (JSON or YAML) replaces the demo policy, e.g. with a recipe's rule from docs/recipes.md.
 * STATUS_PORT (8087): the status page, http://127.0.0.1:STATUS_PORT/status (always loopback).
 * EMULATOR_REDIS_PORT (8088): the emulated Redis of the shared cache tier; TVS_SHARED_CACHE=off runs without the tier.
 * CONSENT_PORT (8089): the consent function behind the emulated IAP (sign in: POST /__admin/iap/login on the emulator).
 */
import { readFileSync } from 'node:fs';
import { startEmulator } from '../emulator/index.js';
import { localRotateEnv, localSharedCacheEnv, localUserGrantsEnv, startLocalStack } from './local-stack.js';
import { createStatusTee, emulatorRotationState } from './status/index.js';
import { startStatusServer } from './status/server.js';
import { localConsentClient, startConsentStack } from './consent-stack.js';
import { loadRotateConfig } from '../shared/rotate-config.js';

const port = (name: string, fallback: number): number => {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 65_535) {
    console.error(`${name} must be a port number (0-65535), got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return value;
};

const host = process.env.HOST ?? '127.0.0.1';
const emulator = await startEmulator({
  host,
  httpPort: port('EMULATOR_HTTP_PORT', 8085),
  grpcPort: port('EMULATOR_GRPC_PORT', 8086),
  redisPort: port('EMULATOR_REDIS_PORT', 8088),
  seed: process.env.EMULATOR_SEED,
});
// The functions' own identity (ADC: the rotator's IAM / API Keys calls) comes from the emulated metadata server.
process.env.GCE_METADATA_HOST = emulator.metadataHost;
// The demo seed marks its key secrets managed (as Terraform's secrets module does); what each
// one rotates comes from the binding, as in production: ROTATION_BINDINGS_FILE (JSON) or the demo's.
const bindingsFile = process.env.ROTATION_BINDINGS_FILE;
// The status page reads the same audit and ops lines that are printed below (and that the production log metrics count).
const tee = createStatusTee();
// The OAuth client users consent to on the consent page, and the token function vends for: one.
const consentPort = port('CONSENT_PORT', 8089);
const consentClient = localConsentClient(
  emulator,
  `http://${host.includes(':') ? `[${host}]` : host}:${consentPort}`,
);
const stack = await startLocalStack({
  auditTransport: tee.auditTransport,
  opsLogWrite: tee.opsLogWrite,
  emulator,
  host,
  tokenPort: port('TOKEN_PORT', 8080),
  rotatePort: port('ROTATE_PORT', 8081),
  env: {
    // The shared, encrypted cache tier on the emulated Redis and KMS (docs/shared-cache.md);
    // TVS_SHARED_CACHE=off runs without it, as a deployment without the tier does.
    ...(process.env.TVS_SHARED_CACHE === 'off' ? {} : localSharedCacheEnv(emulator)),
    ...(process.env.TVS_POLICY_FILE ? { TVS_POLICY_FILE: process.env.TVS_POLICY_FILE } : {}),
    // User-token vending and grant revocation (issue 19) on the emulated Firestore, KMS and OAuth
    // endpoints, for the consent page's OAuth client; TVS_USER_TOKENS=off runs without them.
    ...(process.env.TVS_USER_TOKENS === 'off' ? {} : localUserGrantsEnv(emulator, consentClient.clientId)),
  },
  ...(bindingsFile ? { rotateEnv: { TVS_ROTATION_BINDINGS: readFileSync(bindingsFile, 'utf8') } } : {}),
});

// The consent function (issue 19), browser-facing behind the emulated IAP; revokes go to the token function.
const consent = await startConsentStack({
  emulator,
  host,
  port: consentPort,
  tokenFunctionUrl: stack.tokenUrl,
  overrides: { opsLogWrite: tee.opsLogWrite },
});

const status = await startStatusServer({
  aggregator: tee.aggregator,
  rotationState: emulatorRotationState(
    emulator,
    loadRotateConfig(
      localRotateEnv(
        emulator,
        stack.rotateUrl,
        ...(bindingsFile ? [readFileSync(bindingsFile, 'utf8')] : []),
      ),
    ).bindings,
  ),
  port: port('STATUS_PORT', 8087),
});

const token = stack.tokenUrl.replace('//127.0.0.1:', '//localhost:');
const meta = `http://${emulator.metadataHost.replace('127.0.0.1', 'localhost')}`;
const sa = 'gemini-caller@tvs-local.iam.gserviceaccount.com';
const rotate = stack.rotateUrl.replace('//127.0.0.1:', '//localhost:');
process.stdout.write(`
Token vending service — local stack (everything Google is the emulator; nothing leaves this machine)

  token function     ${token}
  rotation function  ${rotate}   POST {"dryRun"?, "force"?, "secrets"?: [...]}  (events: ${stack.rotateEventsUrl})
  emulator (HTTP)    ${emulator.httpUrl}   OAuth /token, /oauth2/v3/certs, /tokeninfo, metadata server, /__admin
                     user consent: /o/oauth2/v2/auth, /revoke, /oauth2/v3/userinfo, /drive/v3/about (docs/testing.md)
  Secret Manager     ${emulator.grpcEndpoint} (gRPC; REST versions:access on the HTTP port)
  shared cache       ${process.env.TVS_SHARED_CACHE === 'off' ? 'off (TVS_SHARED_CACHE=off)' : `${emulator.redis.url} (Redis, AUTH in Secret Manager), tokens sealed under a KMS-wrapped data key`}
  metadata server    GCE_METADATA_HOST=${emulator.metadataHost}   identity: workload@tvs-local.iam.gserviceaccount.com
  policy             ${stack.env.TVS_POLICY_FILE}
  consent page       ${consent.url}/v1/consent   behind the emulated IAP: sign in first with
                     curl -s -X POST ${emulator.httpUrl}/__admin/iap/login -d '{"user":"ada@example.com"}'
  status page        ${status.url}   decisions, cache hit ratio, mint latency, rotation (this process only)
  CI issuers         ${emulator.httpUrl}/issuers/{github-actions,gitlab,kubernetes}   (trusted; recipes: docs/recipes.md)

Try it:

  # 1. the workload's ID token (with its email: format=full) from the emulated metadata server
  ID_TOKEN=$(curl -s -H 'Metadata-Flavor: Google' '${meta}/computeMetadata/v1/instance/service-accounts/default/identity?audience=${token}&format=full')

  # 2. an access token for ${sa}
  curl -s -X POST ${token}/v1/projects/-/serviceAccounts/${sa}:generateAccessToken \\
    -H "Authorization: Bearer $ID_TOKEN" -H 'Content-Type: application/json' \\
    -d '{"scope":["https://www.googleapis.com/auth/cloud-platform"],"lifetime":"3600s"}'

  # 3. an ID token for another service
  curl -s -X POST ${token}/v1/projects/-/serviceAccounts/${sa}:generateIdToken \\
    -H "Authorization: Bearer $ID_TOKEN" -H 'Content-Type: application/json' -d '{"audience":"https://example.com"}'

  # 4. what a token grants, as Google would say:  curl -s '${emulator.httpUrl}/tokeninfo?access_token=ACCESS_TOKEN'

  # 5. rotation: see the plan, then rotate the demo secrets now (see docs/rotation.md). rotate checks its
  #    caller's ID token too; locally the metadata identity stands in for Cloud Scheduler's account.
  ROTATE_TOKEN=$(curl -s -H 'Metadata-Flavor: Google' '${meta}/computeMetadata/v1/instance/service-accounts/default/identity?audience=${rotate}&format=full')
  curl -s -X POST ${rotate} -H "Authorization: Bearer $ROTATE_TOKEN" -H 'Content-Type: application/json' -d '{"dryRun":true}'
  curl -s -X POST ${rotate} -H "Authorization: Bearer $ROTATE_TOKEN" -H 'Content-Type: application/json' -d '{"force":true,"secrets":["gemini-caller-key"]}'

  # 6. a CI job's token from an emulated issuer (GitHub Actions here; gitlab and kubernetes likewise),
  #    to try a recipe from docs/recipes.md: start with TVS_POLICY_FILE=a policy holding its rule and present the token.
  CI_TOKEN=$(curl -s -X POST ${emulator.httpUrl}/__admin/issuers/github-actions/token -d '{"repository":"acme/app","audience":"${token}"}' | jq -r .token)

  # 7. the whole flow in one command (workload -> vended token -> Gemini answer):  npm run demo

Audit entries are printed below as JSON lines. Ctrl-C stops everything.
`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    void Promise.all([stack.stop(), status.stop(), consent.stop()])
      .then(() => emulator.stop())
      .finally(() => process.exit(0));
  });
}
