/**
 * UpdateSecret's field-mask semantics: only the named fields change, a named field missing from
 * the request is cleared, and the result is validated as a whole before anything is stored.
 * `update_mask` is required, and immutable or unknown fields are INVALID_ARGUMENT.
 */
import { invalidArgument } from './secret-manager-error.js';
import { copySecret, type Secret, type SecretInput } from './secret-model.js';
import {
  validateAliases,
  validateAnnotations,
  validateLabels,
  validatePositiveDuration,
  validateRotation,
  validateTopics,
} from './secret-validation.js';

/** Field paths UpdateSecret accepts (proto field names). */
export const UPDATABLE_PATHS = new Set([
  'labels',
  'annotations',
  'version_aliases',
  'topics',
  'rotation',
  'rotation.next_rotation_time',
  'rotation.rotation_period',
  'expire_time',
  'ttl',
  'version_destroy_ttl',
  'etag',
]);

/** `versionAliases` → `version_aliases`; gRPC callers send snake_case, REST-minded ones camelCase. */
function snakeCase(path: string): string {
  return path.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Returns a validated copy of `secret` with the masked fields of `input` applied (etag unchanged). */
export function applySecretUpdate(
  secret: Secret,
  input: SecretInput,
  updateMask: string[],
  context: { now: Date; versionExists: (n: number) => boolean },
): Secret {
  const paths = updateMask.map((p) => snakeCase(p.trim())).filter((p) => p !== '');
  if (paths.length === 0) throw invalidArgument('update_mask is required and must name at least one field.');
  for (const path of paths) {
    if (!UPDATABLE_PATHS.has(path))
      throw invalidArgument(`Field [${path}] in update_mask cannot be updated.`);
  }
  const has = (path: string): boolean => paths.includes(path);
  const next = copySecret(secret);

  if (has('labels')) {
    next.labels = { ...input.labels };
    validateLabels(next.labels);
  }
  if (has('annotations')) {
    next.annotations = { ...input.annotations };
    validateAnnotations(next.annotations);
  }
  if (has('version_aliases')) {
    next.versionAliases = { ...input.versionAliases };
    validateAliases(next.versionAliases, context.versionExists);
  }
  if (has('topics')) {
    next.topics = (input.topics ?? []).map((t) => ({ name: t.name }));
    validateTopics(next.topics);
  }
  const rotationChanged =
    has('rotation') || has('rotation.next_rotation_time') || has('rotation.rotation_period');
  if (has('rotation')) {
    if (input.rotation) next.rotation = structuredClone(input.rotation);
    else delete next.rotation;
  } else {
    const rotation = { ...next.rotation };
    if (has('rotation.next_rotation_time')) rotation.nextRotationTime = input.rotation?.nextRotationTime;
    if (has('rotation.rotation_period'))
      rotation.rotationPeriodSeconds = input.rotation?.rotationPeriodSeconds;
    if (rotationChanged) next.rotation = dropUndefined(rotation);
  }
  if (next.rotation && Object.keys(next.rotation).length === 0) delete next.rotation;
  if (rotationChanged && next.rotation) validateRotation(next.rotation, next.topics, context.now);
  if (!rotationChanged && has('topics') && next.rotation?.nextRotationTime && next.topics.length === 0) {
    throw invalidArgument('Secret.topics must be set to configure rotation.');
  }
  if (has('ttl') || has('expire_time')) {
    validatePositiveDuration('ttl', input.ttlSeconds);
    if (has('ttl') && input.ttlSeconds !== undefined) {
      next.expireTime = new Date(context.now.getTime() + input.ttlSeconds * 1000);
    } else if (has('expire_time') && input.expireTime) {
      if (input.expireTime.getTime() <= context.now.getTime())
        throw invalidArgument('expire_time must be in the future.');
      next.expireTime = input.expireTime;
    } else {
      delete next.expireTime;
    }
  }
  if (has('version_destroy_ttl')) {
    validatePositiveDuration('version_destroy_ttl', input.versionDestroyTtlSeconds);
    if (input.versionDestroyTtlSeconds !== undefined)
      next.versionDestroyTtlSeconds = input.versionDestroyTtlSeconds;
    else delete next.versionDestroyTtlSeconds;
  }
  return next;
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
