/**
 * The Secret Manager gRPC server: SecretManagerService (v1) from the client library's own
 * protos, backed by a SecretStore. Every RPC first records itself with the fault registry
 * (`secretmanager.<Method>`) and applies an injected fault: latency, then an HTTP status mapped
 * to its gRPC code, or a reset answered as UNAVAILABLE.
 *
 * IAM (Get/Set/TestIamPermissions), EnableManagedRotation and RotateSecret answer UNIMPLEMENTED.
 */
import { setTimeout as delay } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { grpcCodeForHttpStatus, type FaultRegistry } from '../faults.js';
import {
  accessMessage,
  crc32cFrom,
  secretInputFrom,
  secretMessage,
  secretsPageMessage,
  versionMessage,
  versionsPageMessage,
  type SecretMessage,
} from './grpc-codec.js';
import { GrpcCode, SecretManagerError, invalidArgument } from './secret-manager-error.js';
import type { SecretStore } from './secret-store.js';
import { secretManagerServiceDefinition } from './service-definition.js';

export interface SecretManagerGrpcOptions {
  store: SecretStore;
  faults: FaultRegistry;
  /** Defaults to 127.0.0.1. */
  host?: string;
  /** Defaults to 0 (an ephemeral port). */
  port?: number;
}

export interface SecretManagerGrpcServer {
  port: number;
  stop(): Promise<void>;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- requests are proto-loader objects */
type Handler = (request: any) => unknown;

function toServiceError(error: unknown): Partial<grpc.ServiceError> {
  if (error instanceof SecretManagerError) return { code: error.code, details: error.message };
  // Never leak internals (or payloads) in an answer.
  return { code: grpc.status.INTERNAL, details: 'Internal error encountered.' };
}

function unary(method: string, faults: FaultRegistry, handler: Handler): grpc.handleUnaryCall<any, any> {
  return (call, callback) => {
    const fault = faults.take(`secretmanager.${method}`);
    const run = async (): Promise<void> => {
      if (fault?.latencyMs) await delay(fault.latencyMs);
      if (fault?.reset) {
        callback({ code: GrpcCode.UNAVAILABLE, details: 'Injected fault: connection reset.' });
        return;
      }
      if (fault?.status !== undefined && fault.status >= 400) {
        callback({
          code: grpcCodeForHttpStatus(fault.status),
          details: `Injected fault: HTTP ${fault.status}.`,
        });
        return;
      }
      try {
        callback(null, handler(call.request));
      } catch (error) {
        callback(toServiceError(error));
      }
    };
    void run();
  };
}

function required<T>(value: T | undefined | null | '', field: string): T {
  if (value === undefined || value === null || value === '')
    throw invalidArgument(`Field [${field}] is required.`);
  return value;
}

function handlers(store: SecretStore): Record<string, Handler> {
  const unimplemented =
    (method: string): Handler =>
    () => {
      throw new SecretManagerError(
        'UNIMPLEMENTED',
        `${method} is not implemented by the Secret Manager emulator.`,
      );
    };
  return {
    CreateSecret: (r) =>
      secretMessage(
        store.createSecret(
          required(r.parent, 'parent'),
          required(r.secretId, 'secret_id'),
          secretInputFrom(required<SecretMessage>(r.secret, 'secret')),
        ),
      ),
    GetSecret: (r) => secretMessage(store.getSecret(required(r.name, 'name'))),
    UpdateSecret: (r) => {
      const secret = required<SecretMessage>(r.secret, 'secret');
      const paths: string[] = r.updateMask?.paths ?? [];
      return secretMessage(
        store.updateSecret({ ...secretInputFrom(secret), name: required(secret.name, 'secret.name') }, paths),
      );
    },
    DeleteSecret: (r) => {
      store.deleteSecret(required(r.name, 'name'), r.etag || undefined);
      return {};
    },
    ListSecrets: (r) =>
      secretsPageMessage(
        store.listSecrets(required(r.parent, 'parent'), {
          pageSize: r.pageSize,
          pageToken: r.pageToken,
          filter: r.filter,
        }),
      ),
    AddSecretVersion: (r) => {
      const payload = required<{ data?: Buffer; dataCrc32c?: string }>(r.payload, 'payload');
      return versionMessage(
        store.addVersion(required(r.parent, 'parent'), {
          data: payload.data ?? Buffer.alloc(0),
          dataCrc32c: crc32cFrom(payload.dataCrc32c),
        }),
      );
    },
    GetSecretVersion: (r) => versionMessage(store.getVersion(required(r.name, 'name'))),
    ListSecretVersions: (r) =>
      versionsPageMessage(
        store.listVersions(required(r.parent, 'parent'), {
          pageSize: r.pageSize,
          pageToken: r.pageToken,
          filter: r.filter,
        }),
      ),
    AccessSecretVersion: (r) => accessMessage(store.accessVersion(required(r.name, 'name'))),
    EnableSecretVersion: (r) =>
      versionMessage(store.enableVersion(required(r.name, 'name'), r.etag || undefined)),
    DisableSecretVersion: (r) =>
      versionMessage(store.disableVersion(required(r.name, 'name'), r.etag || undefined)),
    DestroySecretVersion: (r) =>
      versionMessage(store.destroyVersion(required(r.name, 'name'), r.etag || undefined)),
    SetIamPolicy: unimplemented('SetIamPolicy'),
    GetIamPolicy: unimplemented('GetIamPolicy'),
    TestIamPermissions: unimplemented('TestIamPermissions'),
    EnableManagedRotation: unimplemented('EnableManagedRotation'),
    RotateSecret: unimplemented('RotateSecret'),
  };
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/** Starts the server; resolves once it listens (on an ephemeral port unless `port` is given). */
export async function startSecretManagerGrpc(
  options: SecretManagerGrpcOptions,
): Promise<SecretManagerGrpcServer> {
  const definition = secretManagerServiceDefinition();
  const byMethod = handlers(options.store);
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const method of Object.keys(definition)) {
    const handler =
      byMethod[method] ??
      ((): never => {
        throw new SecretManagerError(
          'UNIMPLEMENTED',
          `${method} is not implemented by the Secret Manager emulator.`,
        );
      });
    implementation[method] = unary(method, options.faults, handler);
  }
  const server = new grpc.Server();
  server.addService(definition, implementation);
  const host = options.host ?? '127.0.0.1';
  const address = host.includes(':') ? `[${host}]:${options.port ?? 0}` : `${host}:${options.port ?? 0}`;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, boundPort) => {
      if (error) reject(error);
      else resolve(boundPort);
    });
  });
  return {
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        let done = false;
        const finish = (): void => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          resolve();
        };
        // Open client channels can hold a graceful shutdown; cut them after a short grace.
        const timer = setTimeout(() => {
          server.forceShutdown();
          finish();
        }, 1000);
        server.tryShutdown(finish);
      }),
  };
}
