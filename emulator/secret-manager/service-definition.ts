/**
 * Loads SecretManagerService from the protos that `@google-cloud/secret-manager` itself ships,
 * with google-gax's common protos (google/api, google/iam, google/rpc, ...) for the imports, so
 * the server speaks exactly the wire format of the client it is tested with.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const require = createRequire(import.meta.url);

/** How requests are decoded: camelCase fields, int64 and enums as strings, oneof names set. */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: true,
};

let cached: grpc.ServiceDefinition | undefined;

/** The `google.cloud.secretmanager.v1.SecretManagerService` definition (loaded once). */
export function secretManagerServiceDefinition(): grpc.ServiceDefinition {
  if (cached) return cached;
  // build/src/index.js of each package; their protos live in build/protos.
  const clientMain = require.resolve('@google-cloud/secret-manager');
  const gaxMain = createRequire(clientMain).resolve('google-gax');
  const packageDefinition = protoLoader.loadSync('google/cloud/secretmanager/v1/service.proto', {
    ...LOADER_OPTIONS,
    includeDirs: [
      path.resolve(path.dirname(clientMain), '../protos'),
      path.resolve(path.dirname(gaxMain), '../protos'),
    ],
  });
  const loaded = grpc.loadPackageDefinition(packageDefinition) as unknown as {
    google: { cloud: { secretmanager: { v1: { SecretManagerService: grpc.ServiceClientConstructor } } } };
  };
  cached = loaded.google.cloud.secretmanager.v1.SecretManagerService.service;
  return cached;
}
