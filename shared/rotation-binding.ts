/**
 * The rotation binding: which secret holds which credential (kind, target, period, grace).
 * Deploy-time configuration owned by the infra team: Terraform renders it as JSON into the
 * rotation functions' environment (`TVS_ROTATION_BINDINGS`) from the same map that creates the
 * secrets. A secret's own labels and annotations are never trusted to say what it rotates.
 */
import * as z from './zod.js';

export type CredentialKind = 'sa-key' | 'api-key';

/** What one secret rotates, and how often. */
export interface RotationBinding {
  kind: CredentialKind;
  /** SA email (sa-key) or `projects/P/locations/global/keys/K` (api-key). */
  target: string;
  periodMs: number;
  graceMs: number;
}

/** Secret id (short name, e.g. `tvs-gemini-caller`) → binding. */
export type RotationBindings = ReadonlyMap<string, RotationBinding>;

export const SECRET_ID = /^[A-Za-z0-9_-]{1,255}$/;
export const SA_EMAIL =
  /^[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z][a-z0-9-]{4,28}[a-z0-9]\.iam\.gserviceaccount\.com$/;
export const API_KEY_NAME = /^projects\/[^/]+\/locations\/global\/keys\/[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** `"7200s"` → 7_200_000; the format Terraform and Secret Manager use for durations. */
export const durationSeconds = z.pipe(
  z.string().check(z.regex(/^\d{1,10}s$/, 'must be a duration in seconds, e.g. 7200s')),
  z.transform((s: string) => Number(s.slice(0, -1)) * 1000),
);

const bindingSchema = z.pipe(
  z
    .strictObject({
      kind: z.enum(['sa-key', 'api-key']),
      target: z.string().check(z.minLength(1)),
      period: durationSeconds.check(z.refine((ms) => ms >= 3_600_000, 'must be at least 3600s')),
      grace: durationSeconds.check(
        z.refine((ms) => ms > 3_600_000, 'must exceed 3600s, the longest token lifetime'),
      ),
    })
    .check(
      z.superRefine((b, ctx) => {
        if (b.kind === 'sa-key' && !SA_EMAIL.test(b.target))
          ctx.addIssue({ code: 'custom', path: ['target'], message: 'must be a service account email' });
        if (b.kind === 'api-key' && !API_KEY_NAME.test(b.target))
          ctx.addIssue({
            code: 'custom',
            path: ['target'],
            message: 'must be projects/P/locations/global/keys/K',
          });
        if (b.grace >= b.period)
          ctx.addIssue({ code: 'custom', path: ['grace'], message: 'must be shorter than the period' });
      }),
    ),
  z.transform((b): RotationBinding => ({
    kind: b.kind,
    target: b.target,
    periodMs: b.period,
    graceMs: b.grace,
  })),
);

/**
 * The JSON text of `TVS_ROTATION_BINDINGS`: `{"<secret id>": {"kind", "target", "period", "grace"}}`
 * (unknown fields refused). `{}` is valid: a deployment that rotates nothing.
 */
export const rotationBindingsJson = z.pipe(
  z.pipe(
    z.jsonText('must be valid JSON: {"<secret id>": {"kind", "target", "period", "grace"}}'),
    z.record(
      z.string().check(z.regex(SECRET_ID, 'secret ids are 1-255 letters, digits, _ and -')),
      bindingSchema,
    ),
  ),
  z.transform((record): RotationBindings => new Map(Object.entries(record))),
);
