/**
 * Wires the status page into a local stack: a tee for the functions' audit transport and ops log
 * writer (the same lines still go to stdout/stderr) into a StatusAggregator, and the fallback
 * rotation state read from the emulator's Secret Manager (the annotations the rotator keeps).
 */
import { Writable } from 'node:stream';
import type { Emulator } from '../../emulator/index.js';
import { MANAGED_LABEL, parseRotationState } from '../../functions/rotate/state.js';
import type { RotationBindings } from '../../shared/rotation-binding.js';
import { StatusAggregator, type SecretHealth } from './aggregator.js';

export interface StatusTee {
  aggregator: StatusAggregator;
  auditTransport: Writable;
  opsLogWrite: (line: string) => void;
}

/** `audit`/`ops` receive every line too (default: stdout/stderr, as without the page). */
export function createStatusTee(
  audit: (line: string) => void = (line) => process.stdout.write(line),
  ops: (line: string) => void = (line) => process.stderr.write(line),
  aggregator: StatusAggregator = new StatusAggregator(),
): StatusTee {
  let partial = '';
  const auditTransport = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      const text = partial + chunk.toString();
      const end = text.lastIndexOf('\n');
      partial = text.slice(end + 1);
      if (end >= 0) aggregator.ingest(text.slice(0, end));
      audit(chunk.toString());
      callback();
    },
  });
  return {
    aggregator,
    auditTransport,
    opsLogWrite(line) {
      aggregator.ingest(line);
      ops(line);
    },
  };
}

/** The rotation state of every managed secret as the rotator keeps it, with its next due time from the binding. */
export function emulatorRotationState(emulator: Emulator, bindings: RotationBindings): () => SecretHealth[] {
  return () => {
    const out: SecretHealth[] = [];
    const now = Date.now();
    for (const secret of emulator.state.secrets.listSecrets(`projects/${emulator.projectId}`, {
      pageSize: 250,
    }).items) {
      if (secret.labels[MANAGED_LABEL] !== 'true') continue;
      const binding = bindings.get(secret.secretId);
      const name = `projects/${emulator.projectId}/secrets/${secret.secretId}`;
      try {
        const state = parseRotationState(secret.annotations);
        out.push({
          secret: name,
          kind: binding?.kind,
          phase: state.phase,
          dueAtMs: binding && state.rotatedAtMs !== undefined ? state.rotatedAtMs + binding.periodMs : null,
          credentialAgeSeconds:
            state.rotatedAtMs !== undefined ? Math.round((now - state.rotatedAtMs) / 1000) : null,
          ...(state.lastError ? { lastError: { code: 'error', reason: state.lastError } } : {}),
          seenAtMs: now,
        });
      } catch {
        out.push({ secret: name, kind: binding?.kind, phase: 'unreadable', seenAtMs: now });
      }
    }
    return out;
  };
}
