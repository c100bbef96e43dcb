/** The bench's side of the emulator process: start it, ask it for tokens, env and counters. */
import { fileURLToPath } from 'node:url';
import type { EmulatorInfo, EmulatorReply, EmulatorRequest } from './emulator-protocol.js';
import { LOAD_CORE, spawnNode, type Child } from './processes.js';

const ENTRY = fileURLToPath(new URL('./emulator-process.ts', import.meta.url));

export interface EmulatorHandle extends EmulatorInfo {
  child: Child;
  /** The token function's environment for a function served at `tokenUrl`. */
  tokenEnv(tokenUrl: string): Promise<Record<string, string>>;
  /** A Google-signed ID token of the demo workload for `audience`. */
  idToken(audience: string): Promise<string>;
  counters(): Promise<Record<string, number>>;
  resetCounters(): Promise<void>;
  /** Puts the policy text into the emulator's Secret Manager (once); answers its version name. */
  seedPolicySecret(text: string): Promise<string>;
  stop(): Promise<void>;
}

/** Spawns the emulator (pinned with the load generator) and waits until it listens. */
export async function startEmulatorProcess(): Promise<EmulatorHandle> {
  const child = spawnNode(['--import', 'tsx', ENTRY], { core: LOAD_CORE, ipc: true });
  const pending = new Map<number, { resolve(value: unknown): void; reject(err: Error): void }>();
  let nextId = 1;

  let onEarlyExit: ((code: number | null) => void) | undefined;
  const info = await new Promise<EmulatorInfo>((resolve, reject) => {
    onEarlyExit = (code) => reject(new Error(`emulator exited (${code}): ${child.stderrTail()}`));
    child.process.once('exit', onEarlyExit);
    child.process.on('message', (reply: EmulatorReply) => {
      if (reply.id === 0) {
        if (reply.ok) resolve(reply.value as EmulatorInfo);
        return;
      }
      const waiter = pending.get(reply.id);
      pending.delete(reply.id);
      if (!waiter) return;
      if (reply.ok) waiter.resolve(reply.value);
      else waiter.reject(new Error(`emulator: ${reply.error}`));
    });
  });

  const ask = <T>(request: EmulatorRequest): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve: resolve, reject });
      child.process.send({ id, request });
    });

  return {
    ...info,
    child,
    tokenEnv: (tokenUrl) => ask({ op: 'tokenEnv', tokenUrl }),
    idToken: (audience) => ask({ op: 'idToken', audience }),
    counters: () => ask({ op: 'counters' }),
    resetCounters: () => ask({ op: 'resetCounters' }),
    seedPolicySecret: (text) => ask({ op: 'seedPolicySecret', text }),
    async stop() {
      if (onEarlyExit) child.process.off('exit', onEarlyExit);
      child.process.disconnect();
      await child.stop(3_000);
    },
  };
}
