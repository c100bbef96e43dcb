import type { FaultRegistry } from '../faults.js';
import type { EmulatorState } from '../state/emulator-state.js';

/** What HTTP route groups are built from. */
export interface HttpDeps {
  readonly state: EmulatorState;
  readonly faults: FaultRegistry;
}
