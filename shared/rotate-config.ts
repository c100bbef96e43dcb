/**
 * The rotation function's configuration: read once from the environment at cold start,
 * validated with zod, failing loudly with each bad variable's name.
 */
import * as z from './zod.js';
import { ConfigError, csv, GOOGLE_DEFAULTS, parseEnv, secureUrl } from './config.js';
import { rotationBindingsJson, type RotationBindings } from './rotation-binding.js';

/** Google's production endpoints the rotator talks to; each is overridable (the emulator). */
export const ROTATE_DEFAULTS = {
  iamUrl: 'https://iam.googleapis.com',
  apiKeysUrl: 'https://apikeys.googleapis.com',
  geminiUrl: 'https://generativelanguage.googleapis.com',
} as const;

/** How long the rotator waits for an API Keys long-running operation (create, delete). */
export const API_KEY_OPERATION_DEADLINE_MS = 60_000;

const int = (min: number, max: number) => z.coerce.number().check(z.int(), z.minimum(min), z.maximum(max));

const envSchema = z.object({
  GOOGLE_CLOUD_PROJECT: z
    .string()
    .check(
      z.regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, 'must be the project id that holds the managed secrets'),
    ),
  // Which secret rotates which credential: deploy-time configuration rendered by Terraform, never
  // read from the secrets themselves. Required (`{}` rotates nothing).
  TVS_ROTATION_BINDINGS: z.pipe(
    z.string({
      error: 'is required: the JSON map secret id → {kind, target, period, grace} (Terraform renders it)',
    }),
    rotationBindingsJson,
  ),
  TVS_SECRET_MANAGER_ENDPOINT: z._default(secureUrl, GOOGLE_DEFAULTS.secretManagerEndpoint),
  TVS_IAM_URL: z._default(secureUrl, ROTATE_DEFAULTS.iamUrl),
  TVS_APIKEYS_URL: z._default(secureUrl, ROTATE_DEFAULTS.apiKeysUrl),
  TVS_GEMINI_URL: z._default(secureUrl, ROTATE_DEFAULTS.geminiUrl),
  TVS_TOKEN_URI_ALLOWLIST: z._default(z.pipe(csv, z.array(secureUrl).check(z.minLength(1))), [
    GOOGLE_DEFAULTS.tokenUri,
  ]),
  // A run's claim on a secret expires after this long, so a crashed run never blocks rotation
  // for good. Longer than one run can take (Cloud Functions stops a run after 540 s), and at
  // least minClaimTtlMs (checked below).
  TVS_ROTATION_CLAIM_TTL_SECONDS: z._default(int(60, 3600), 600),
  // New SA keys can take ~60 s to work everywhere: verification retries this long.
  TVS_ROTATION_VERIFY_DEADLINE_MS: z._default(int(1000, 300_000), 120_000),
  TVS_UPSTREAM_DEADLINE_MS: z._default(int(100, 60_000), 10_000),
  TVS_AUDIT_LOG_NAME: z._default(
    z.string().check(z.regex(/^[A-Za-z0-9_.\/-]{1,100}$/)),
    'token-vending-rotation',
  ),
  // Who may call `rotate` over HTTP (checked in the function too, behind Cloud Run's IAM check).
  TVS_ROTATE_INVOKERS: z.pipe(
    csv,
    z
      .array(z.email('must be service-account emails, comma-separated'))
      .check(z.minLength(1, "must name the service account(s) allowed to call rotate (Cloud Scheduler's)")),
  ),
  TVS_ROTATE_AUDIENCE: z.pipe(
    csv,
    z
      .array(secureUrl)
      .check(
        z.minLength(1, "must name the rotate function's URL(s), the audience of its callers' ID tokens"),
      ),
  ),
  TVS_GOOGLE_JWKS_URL: z._default(secureUrl, GOOGLE_DEFAULTS.jwksUrl),
  TVS_CLOCK_SKEW_SECONDS: z._default(int(0, 60), 60),
});

export interface RotateConfig {
  projectId: string;
  /** Secret id → what it rotates (`TVS_ROTATION_BINDINGS`). */
  bindings: RotationBindings;
  secretManagerEndpoint: string;
  iamUrl: string;
  apiKeysUrl: string;
  geminiUrl: string;
  tokenUriAllowlist: string[];
  claimTtlMs: number;
  verifyDeadlineMs: number;
  upstreamDeadlineMs: number;
  auditLogName: string;
  /** Who may call `rotate` over HTTP, and the audience their ID tokens must carry. */
  invokers: { emails: string[]; audiences: string[]; googleJwksUrl: string; clockSkewSeconds: number };
}

const trimSlash = (url: string): string => url.replace(/\/+$/, '');

/**
 * The shortest claim TTL allowed: twice the longest step (verification, or waiting for an API
 * Keys operation) plus one upstream call. A claim that outlives any single step means a run is
 * not overtaken mid-step in the normal case; destructive calls re-assert the claim regardless.
 */
export function minClaimTtlMs(verifyDeadlineMs: number, upstreamDeadlineMs: number): number {
  return 2 * (Math.max(verifyDeadlineMs, API_KEY_OPERATION_DEADLINE_MS) + upstreamDeadlineMs);
}

/** Parses the rotation function's environment. Throws `ConfigError` naming each bad variable. */
export function loadRotateConfig(env: NodeJS.ProcessEnv = process.env): RotateConfig {
  const e = parseEnv(envSchema, env);
  const minTtlMs = minClaimTtlMs(e.TVS_ROTATION_VERIFY_DEADLINE_MS, e.TVS_UPSTREAM_DEADLINE_MS);
  if (e.TVS_ROTATION_CLAIM_TTL_SECONDS * 1000 < minTtlMs) {
    throw new ConfigError(
      `Invalid configuration:\n  TVS_ROTATION_CLAIM_TTL_SECONDS: must be at least ${Math.ceil(minTtlMs / 1000)} s, twice the longest step (max of TVS_ROTATION_VERIFY_DEADLINE_MS and the 60 s API Keys operation wait) plus TVS_UPSTREAM_DEADLINE_MS`,
    );
  }
  return {
    projectId: e.GOOGLE_CLOUD_PROJECT,
    bindings: e.TVS_ROTATION_BINDINGS,
    secretManagerEndpoint: e.TVS_SECRET_MANAGER_ENDPOINT,
    iamUrl: trimSlash(e.TVS_IAM_URL),
    apiKeysUrl: trimSlash(e.TVS_APIKEYS_URL),
    geminiUrl: trimSlash(e.TVS_GEMINI_URL),
    tokenUriAllowlist: e.TVS_TOKEN_URI_ALLOWLIST,
    claimTtlMs: e.TVS_ROTATION_CLAIM_TTL_SECONDS * 1000,
    verifyDeadlineMs: e.TVS_ROTATION_VERIFY_DEADLINE_MS,
    upstreamDeadlineMs: e.TVS_UPSTREAM_DEADLINE_MS,
    auditLogName: e.TVS_AUDIT_LOG_NAME,
    invokers: {
      emails: e.TVS_ROTATE_INVOKERS,
      audiences: e.TVS_ROTATE_AUDIENCE,
      googleJwksUrl: e.TVS_GOOGLE_JWKS_URL,
      clockSkewSeconds: e.TVS_CLOCK_SKEW_SECONDS,
    },
  };
}
