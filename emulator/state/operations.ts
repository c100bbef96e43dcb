/**
 * Long-running operations (`google.longrunning.Operation`) for APIs whose writes are LROs
 * (API Keys v2). Each operation reports `done` only after `pollsUntilDone` polls, so clients
 * must really poll; the state change itself has already happened when the operation starts.
 */
import { randomUUID } from 'node:crypto';

interface StoredOperation {
  readonly name: string;
  polls: number;
  readonly pollsUntilDone: number;
  readonly response: Record<string, unknown>;
}

export class OperationStore {
  /** Polls before an operation reports done (0 = done in the method's own answer). */
  pollsUntilDone = 1;
  private readonly operations = new Map<string, StoredOperation>();

  /** @param prefix operation name prefix, e.g. `operations/akmf.p7-123456789012-`. */
  constructor(private readonly prefix: string) {}

  /** Starts an operation whose result is `response`; returns its JSON as the method answers it. */
  start(response: Record<string, unknown>): Record<string, unknown> {
    const operation: StoredOperation = {
      name: `${this.prefix}${randomUUID()}`,
      polls: 0,
      pollsUntilDone: this.pollsUntilDone,
      response,
    };
    this.operations.set(operation.name, operation);
    return toJson(operation);
  }

  /** One `GetOperation` call: counts the poll and returns the JSON, or undefined when unknown. */
  poll(name: string): Record<string, unknown> | undefined {
    const operation = this.operations.get(name);
    if (!operation) return undefined;
    operation.polls += 1;
    return toJson(operation);
  }
}

/** proto3 JSON: a pending operation carries no `done` field at all (false is omitted). */
function toJson(operation: StoredOperation): Record<string, unknown> {
  if (operation.polls < operation.pollsUntilDone) return { name: operation.name };
  return { name: operation.name, done: true, response: structuredClone(operation.response) };
}
