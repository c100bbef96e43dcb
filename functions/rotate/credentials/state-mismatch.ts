/** The refusal when the rotation state names something the secret does not own. */
import { FailedPreconditionError } from '../../../shared/errors.js';

/**
 * `FAILED_PRECONDITION` / `STATE_MISMATCH`: the state annotations (writable by anyone who may
 * update the secret) name a key that the binding and the secret's own versions do not back.
 * Nothing is deleted or disabled; `detail` (ids only) says what disagreed.
 */
export function stateMismatch(detail: string): FailedPreconditionError {
  return new FailedPreconditionError(
    'The rotation state names a key this secret does not own; nothing was changed.',
    { reason: 'STATE_MISMATCH', detail },
  );
}
