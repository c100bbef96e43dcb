/**
 * The benchmark's upstream: the emulator in its own process (so its work never shares the load
 * generator's event loop), driven over IPC by `emulator-handle.ts`. Run as
 * `node --import tsx bench/lib/emulator-process.ts` with an IPC channel.
 */
import { startEmulator } from '../../emulator/index.js';
import { localTokenEnv } from '../../scripts/local-stack.js';
import type { EmulatorReply, EmulatorRequest } from './emulator-protocol.js';
import { WORKLOAD } from './emulator-protocol.js';

const emulator = await startEmulator();

async function answer(request: EmulatorRequest): Promise<unknown> {
  switch (request.op) {
    case 'tokenEnv':
      return localTokenEnv(emulator, request.tokenUrl);
    case 'idToken': {
      const account = emulator.state.serviceAccounts.get(WORKLOAD);
      if (!account) throw new Error(`${WORKLOAD} is not seeded`);
      return emulator.state.signingKeys.signIdToken({
        audience: request.audience,
        subject: account,
        includeEmail: true,
      });
    }
    case 'counters':
      return emulator.faults.snapshot();
    case 'resetCounters':
      emulator.faults.reset();
      return null;
    case 'seedPolicySecret': {
      const id = 'tvs-bench-policy';
      const secret = `projects/${emulator.projectId}/secrets/${id}`;
      try {
        emulator.state.secrets.getSecret(secret);
      } catch {
        emulator.state.secrets.seedSecret(id, {}, [Buffer.from(request.text, 'utf8')]);
      }
      return `${secret}/versions/latest`;
    }
  }
}

process.on('message', (message: { id: number; request: EmulatorRequest }) => {
  answer(message.request).then(
    (value) => process.send?.({ id: message.id, ok: true, value } satisfies EmulatorReply),
    (err: unknown) =>
      process.send?.({
        id: message.id,
        ok: false,
        error: err instanceof Error ? err.message : String(err),
      } satisfies EmulatorReply),
  );
});
process.on('disconnect', () => {
  void emulator.stop().finally(() => process.exit(0));
});

process.send?.({
  id: 0,
  ok: true,
  value: {
    httpUrl: emulator.httpUrl,
    tokenUrl: emulator.tokenUrl,
    grpcEndpoint: emulator.grpcEndpoint,
    projectId: emulator.projectId,
  },
} satisfies EmulatorReply);
