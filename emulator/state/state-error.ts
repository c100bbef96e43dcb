/** Why a state operation was refused; endpoint handlers map it to their wire error. */
export type StateErrorCode = 'NOT_FOUND' | 'ALREADY_EXISTS' | 'FAILED_PRECONDITION' | 'INVALID_ARGUMENT';

/** Error thrown by the emulator's state registries (never carries key material). */
export class StateError extends Error {
  override readonly name = 'StateError';
  constructor(
    readonly code: StateErrorCode,
    message: string,
  ) {
    super(message);
  }
}
