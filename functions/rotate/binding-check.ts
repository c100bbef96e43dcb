/**
 * The gate in front of every rotation: a managed secret is rotated only as its deploy-time
 * binding says. The secret's own metadata is writable by anyone with `secretmanager.secrets.update`
 * on it, so it never chooses the target: a secret with no binding, or whose kind label or
 * leftover config annotations disagree with the binding, is refused with a stable reason.
 */
import { FailedPreconditionError } from '../../shared/errors.js';
import type { SecretInfo } from '../../shared/gcp/secret-admin.js';
import type { RotationBinding } from '../../shared/rotation-binding.js';
import { KIND_LABEL, LEGACY_CONFIG_ANNOTATIONS, legacyDurationMs } from './state.js';

/** Why a secret is not rotated. */
export type BindingReason = 'NOT_IN_BINDING' | 'BINDING_MISMATCH' | 'BOUND_SECRET_MISSING';

export function bindingRefusal(
  reason: BindingReason,
  message: string,
  detail?: string,
): FailedPreconditionError {
  return new FailedPreconditionError(message, { reason, ...(detail ? { detail } : {}) });
}

/**
 * Returns the binding of `secret`, or throws `FailedPreconditionError` (`NOT_IN_BINDING`,
 * `BINDING_MISMATCH`) naming what disagrees (ids and field names only).
 */
export function checkBinding(secret: SecretInfo, binding: RotationBinding | undefined): RotationBinding {
  if (!binding) {
    throw bindingRefusal(
      'NOT_IN_BINDING',
      'The secret carries the managed label but no rotation binding names it; it is not rotated.',
      `secret ${secret.secretId} is not in TVS_ROTATION_BINDINGS`,
    );
  }
  const disagreements: string[] = [];
  const kind = secret.labels[KIND_LABEL];
  if (kind !== undefined && kind !== binding.kind)
    disagreements.push(`label ${KIND_LABEL}=${kind}, binding kind ${binding.kind}`);
  const a = secret.annotations;
  const target = a[LEGACY_CONFIG_ANNOTATIONS.target];
  if (target !== undefined && target !== binding.target)
    disagreements.push(
      `annotation ${LEGACY_CONFIG_ANNOTATIONS.target} names another target than the binding`,
    );
  for (const [field, want] of [
    ['period', binding.periodMs],
    ['grace', binding.graceMs],
  ] as const) {
    const value = a[LEGACY_CONFIG_ANNOTATIONS[field]];
    if (value !== undefined && legacyDurationMs(value) !== want)
      disagreements.push(
        `annotation ${LEGACY_CONFIG_ANNOTATIONS[field]} disagrees with the binding's ${field}`,
      );
  }
  if (disagreements.length > 0) {
    throw bindingRefusal(
      'BINDING_MISMATCH',
      "The secret's metadata disagrees with its rotation binding; it is not rotated.",
      `secret ${secret.secretId}: ${disagreements.join('; ')}`,
    );
  }
  return binding;
}
