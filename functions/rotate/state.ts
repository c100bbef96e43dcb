/**
 * The annotation schema of a managed secret: the rotation state the rotator keeps, so a run
 * killed at any step can be resumed by the next. State is written only with etag
 * compare-and-swap. What a secret rotates (kind, target, period, grace) is NOT read from here:
 * it is the deploy-time binding (`shared/rotation-binding.ts`), and the state is checked
 * against it before anything is deleted or disabled.
 *
 * Annotation keys must be 1–63 chars of alphanumerics, `-`, `_`, `.` (no `/`), hence the
 * dotted `tvs.rotation.*` names.
 */
import { z } from 'zod';
import { durationSeconds, type RotationBinding } from '../../shared/rotation-binding.js';

export const ANNOTATION_PREFIX = 'tvs.rotation.';
/** Labels Terraform sets on every managed secret. */
export const MANAGED_LABEL = 'tvs-managed';
export const KIND_LABEL = 'tvs-kind';
/** The list filter that finds managed secrets. */
export const MANAGED_FILTER = `labels.${MANAGED_LABEL}=true`;

export type { CredentialKind } from '../../shared/rotation-binding.js';
/** What the deploy-time binding says one secret rotates. */
export type RotationConfig = RotationBinding;

export type Phase = 'idle' | 'creating' | 'verifying' | 'retiring' | 'purging';

/** The rotation state kept in annotations. */
export interface RotationState {
  phase: Phase;
  /** Rotations started so far. */
  generation: number;
  /**
   * Random, drawn when a rotation is claimed and before anything is created: names the new API key
   * (unpredictable id) and is put on it, so a retried create recognises its own key.
   */
  nonce?: string;
  /** A run's lease on the secret: only its owner moves a non-idle secret until it expires. */
  claim?: { owner: string; expiresAtMs: number };
  /** Credential in the `current` version. */
  currentKey?: string;
  newKey?: string;
  newVersion?: number;
  oldKey?: string;
  oldVersion?: number;
  /** SA keys that existed when the rotation was claimed: anything newer and unstored is an orphan. */
  keysBefore?: string[];
  /** Highest version number when the rotation was claimed: newer versions not recorded are strays. */
  baseVersion?: number;
  rotatedAtMs?: number;
  disabledAtMs?: number;
  /** Stable reason of the last failure (no secrets). */
  lastError?: string;
}

const STATE_FIELDS = [
  'phase',
  'generation',
  'nonce',
  'claim',
  'current-key',
  'new-key',
  'new-version',
  'old-key',
  'old-version',
  'keys-before',
  'base-version',
  'rotated-at',
  'disabled-at',
  'last-error',
] as const;
type StateField = (typeof STATE_FIELDS)[number];
const key = (field: StateField | 'target' | 'period' | 'grace'): string => `${ANNOTATION_PREFIX}${field}`;

const time = z
  .string()
  .refine((s) => !Number.isNaN(Date.parse(s)), 'must be an RFC 3339 time')
  .transform((s) => Date.parse(s));
const positive = z
  .string()
  .regex(/^[1-9]\d{0,9}$/, 'must be a positive integer')
  .transform(Number);
const keyId = z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'must be a key id');

const stateSchema = z.object({
  phase: z.enum(['idle', 'creating', 'verifying', 'retiring', 'purging']).default('idle'),
  generation: z
    .string()
    .regex(/^\d{1,9}$/)
    .transform(Number)
    .default(0),
  nonce: z
    .string()
    .regex(/^[a-z0-9]{16,64}$/, 'must be 16-64 lowercase letters or digits')
    .optional(),
  claim: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}@.+$/, 'must be owner@time')
    .transform((s, ctx) => {
      const at = s.indexOf('@');
      const expiresAtMs = Date.parse(s.slice(at + 1));
      if (Number.isNaN(expiresAtMs)) {
        ctx.addIssue({ code: 'custom', message: 'claim expiry must be an RFC 3339 time' });
        return z.NEVER;
      }
      return { owner: s.slice(0, at), expiresAtMs };
    })
    .optional(),
  currentKey: keyId.optional(),
  newKey: keyId.optional(),
  newVersion: positive.optional(),
  oldKey: keyId.optional(),
  oldVersion: positive.optional(),
  keysBefore: z
    .string()
    .transform((s) => s.split(',').filter(Boolean))
    .pipe(z.array(keyId))
    .optional(),
  baseVersion: z
    .string()
    .regex(/^\d{1,10}$/)
    .transform(Number)
    .optional(),
  rotatedAtMs: time.optional(),
  disabledAtMs: time.optional(),
  lastError: z.string().optional(),
});

const CAMEL: Record<StateField, keyof RotationState> = {
  phase: 'phase',
  generation: 'generation',
  nonce: 'nonce',
  claim: 'claim',
  'current-key': 'currentKey',
  'new-key': 'newKey',
  'new-version': 'newVersion',
  'old-key': 'oldKey',
  'old-version': 'oldVersion',
  'keys-before': 'keysBefore',
  'base-version': 'baseVersion',
  'rotated-at': 'rotatedAtMs',
  'disabled-at': 'disabledAtMs',
  'last-error': 'lastError',
};

/** A secret whose labels/annotations cannot be acted on; the message names the field. */
export class AnnotationError extends Error {
  override readonly name = 'AnnotationError';
}

/** Reads the rotation state; absent annotations mean an idle secret never rotated. */
export function parseRotationState(annotations: Record<string, string>): RotationState {
  const raw: Record<string, string> = {};
  for (const field of STATE_FIELDS) {
    const value = annotations[key(field)];
    if (value !== undefined && value !== '') raw[CAMEL[field]] = value;
  }
  const parsed = stateSchema.safeParse(raw);
  if (!parsed.success) {
    // Name the annotation as operators see it (`tvs.rotation.new-version`), not the field.
    const fieldOf = (camel: string) => STATE_FIELDS.find((f) => CAMEL[f] === camel) ?? camel;
    const text = parsed.error.issues
      .map((i) => `${key(fieldOf(String(i.path[0])) as StateField)}: ${i.message}`)
      .join('; ');
    throw new AnnotationError(`bad rotation state: ${text}`);
  }
  const state: RotationState = { phase: parsed.data.phase, generation: parsed.data.generation };
  for (const [k, v] of Object.entries(parsed.data))
    if (v !== undefined) (state as unknown as Record<string, unknown>)[k] = v;
  return state;
}

const iso = (ms: number): string => new Date(ms).toISOString();

function encode(state: RotationState): Partial<Record<StateField, string>> {
  const s = state;
  const out: Partial<Record<StateField, string | undefined>> = {
    phase: s.phase,
    generation: String(s.generation),
    nonce: s.nonce,
    claim: s.claim ? `${s.claim.owner}@${iso(s.claim.expiresAtMs)}` : undefined,
    'current-key': s.currentKey,
    'new-key': s.newKey,
    'new-version': s.newVersion?.toString(),
    'old-key': s.oldKey,
    'old-version': s.oldVersion?.toString(),
    'keys-before': s.keysBefore?.join(','),
    'base-version': s.baseVersion?.toString(),
    'rotated-at': s.rotatedAtMs === undefined ? undefined : iso(s.rotatedAtMs),
    'disabled-at': s.disabledAtMs === undefined ? undefined : iso(s.disabledAtMs),
    'last-error': s.lastError?.slice(0, 200),
  };
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined));
}

/** The secret's annotations with the state fields replaced by `state` (config and foreign annotations kept). */
export function withRotationState(
  annotations: Record<string, string>,
  state: RotationState,
): Record<string, string> {
  const stateKeys = new Set(STATE_FIELDS.map(key));
  const kept = Object.fromEntries(Object.entries(annotations).filter(([k]) => !stateKeys.has(k)));
  for (const [field, value] of Object.entries(encode(state))) kept[key(field as StateField)] = value;
  return kept;
}

/**
 * Annotations older deployments wrote with the rotation instructions. They are never read as
 * instructions; one left behind that disagrees with the binding stops the secret's rotation.
 */
export const LEGACY_CONFIG_ANNOTATIONS = {
  target: key('target'),
  period: key('period'),
  grace: key('grace'),
} as const;

/** Parses a legacy duration annotation (`7200s`), or undefined when it is not one. */
export function legacyDurationMs(value: string): number | undefined {
  const parsed = durationSeconds.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}
