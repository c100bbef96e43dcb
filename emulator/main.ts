/**
 * Standalone emulator: `npm run emulator`. Environment: EMULATOR_HOST (127.0.0.1),
 * EMULATOR_HTTP_PORT (8085), EMULATOR_GRPC_PORT (8086), EMULATOR_SEED (path to a JSON seed).
 */
import { startEmulator } from './index.js';

function port(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    throw new Error(`${name} must be a port number (0-65535), got "${raw}"`);
  }
  return value;
}

const emulator = await startEmulator({
  host: process.env.EMULATOR_HOST || '127.0.0.1',
  httpPort: port('EMULATOR_HTTP_PORT', 8085),
  grpcPort: port('EMULATOR_GRPC_PORT', 8086),
  ...(process.env.EMULATOR_SEED ? { seed: process.env.EMULATOR_SEED } : {}),
});

const lines = [
  `emulator: project ${emulator.projectId} (${emulator.projectNumber})`,
  `emulator: oauth token      POST ${emulator.tokenUrl}`,
  `emulator: jwks             GET  ${emulator.jwksUrl}`,
  `emulator: tokeninfo        GET  ${emulator.tokeninfoUrl}`,
  `emulator: user consent     GET  ${emulator.authUrl}   (then POST ${emulator.tokenUrl}, POST ${emulator.revokeUrl})`,
  `emulator: userinfo         GET  ${emulator.userinfoUrl}`,
  `emulator: metadata server  GCE_METADATA_HOST=${emulator.metadataHost}`,
  `emulator: secret manager   gRPC ${emulator.grpcEndpoint}`,
  `emulator: admin            ${emulator.httpUrl}/__admin/{faults,counters,reset,metadata/default-service-account}`,
  `emulator: admin (OAuth)    ${emulator.httpUrl}/__admin/oauth/{clients,users,consent,grants,revoke-grant}`,
];
process.stdout.write(`${lines.join('\n')}\n`);

let stopping = false;
function shutdown(signal: string): void {
  if (stopping) return;
  stopping = true;
  process.stdout.write(`emulator: ${signal}, stopping\n`);
  emulator.stop().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(
        `emulator: stop failed: ${error instanceof Error ? error.message : String(error)}\n`,
      );
      process.exit(1);
    },
  );
}
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
