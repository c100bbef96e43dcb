/**
 * The API Keys v2 `Key` resource: its request schema (zod, strict like Google's JSON parser),
 * the stored form, and its proto3 JSON rendering.
 */
import { isIP } from 'node:net';
import { z } from 'zod';

/** Why an API Keys operation was refused (maps 1:1 to a `google.rpc.Code`). */
export type ApiKeyErrorCode =
  'NOT_FOUND' | 'ALREADY_EXISTS' | 'FAILED_PRECONDITION' | 'INVALID_ARGUMENT' | 'ABORTED';

export class ApiKeyError extends Error {
  override readonly name = 'ApiKeyError';
  constructor(
    readonly code: ApiKeyErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** True when `value` is an IPv4/IPv6 address or a CIDR block of one. */
export function isIpOrCidr(value: string): boolean {
  const [address, prefix, ...rest] = value.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  if (!/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}

const ApiTarget = z.strictObject({ service: z.string().min(1), methods: z.array(z.string()).optional() });

export const RestrictionsSchema = z
  .strictObject({
    browserKeyRestrictions: z.strictObject({ allowedReferrers: z.array(z.string()).optional() }).optional(),
    serverKeyRestrictions: z
      .strictObject({
        allowedIps: z.array(z.string().refine(isIpOrCidr, 'must be an IP address or CIDR block')).optional(),
      })
      .optional(),
    androidKeyRestrictions: z
      .strictObject({
        allowedApplications: z
          .array(z.strictObject({ sha1Fingerprint: z.string(), packageName: z.string() }))
          .optional(),
      })
      .optional(),
    iosKeyRestrictions: z.strictObject({ allowedBundleIds: z.array(z.string()).optional() }).optional(),
    apiTargets: z.array(ApiTarget).optional(),
  })
  .refine(
    (r) =>
      [
        r.browserKeyRestrictions,
        r.serverKeyRestrictions,
        r.androidKeyRestrictions,
        r.iosKeyRestrictions,
      ].filter((x) => x !== undefined).length <= 1,
    'at most one of browserKeyRestrictions, serverKeyRestrictions, androidKeyRestrictions, iosKeyRestrictions may be set',
  );

export type Restrictions = z.output<typeof RestrictionsSchema>;

/** A `Key` in a request body; output-only fields are accepted and ignored, as at Google. */
export const KeyInputSchema = z.strictObject({
  name: z.string().optional(),
  uid: z.string().optional(),
  displayName: z.string().max(63, 'displayName must be at most 63 characters').optional(),
  keyString: z.string().optional(),
  createTime: z.string().optional(),
  updateTime: z.string().optional(),
  deleteTime: z.string().optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  restrictions: RestrictionsSchema.optional(),
  etag: z.string().optional(),
  serviceAccountEmail: z.string().optional(),
});

export type KeyInput = z.output<typeof KeyInputSchema>;

/** Parses a `Key` body, throwing INVALID_ARGUMENT worded like Google's JSON parser. */
export function parseKeyInput(body: unknown, field = 'key'): KeyInput {
  const parsed = KeyInputSchema.safeParse(body ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const at = [field, ...issue.path.map(String)].join('.');
  if (issue.code === 'unrecognized_keys') {
    throw new ApiKeyError(
      'INVALID_ARGUMENT',
      `Invalid JSON payload received. Unknown name "${issue.keys[0]}" at '${at}': Cannot find field.`,
    );
  }
  throw new ApiKeyError('INVALID_ARGUMENT', `Invalid value at '${at}': ${issue.message}`);
}

/** A stored API key (the registry hands out copies). */
export interface ApiKey {
  readonly keyId: string;
  readonly uid: string;
  /** `AIza` + 35 characters; returned only by GetKeyString (and the create operation). */
  readonly keyString: string;
  displayName: string;
  annotations: Record<string, string>;
  restrictions: Restrictions | undefined;
  readonly serviceAccountEmail: string | undefined;
  readonly createTime: Date;
  updateTime: Date;
  deleteTime: Date | undefined;
  etag: string;
}

/** proto3 JSON of a Key (empty fields omitted); `keyString` only when asked for. */
export function keyToJson(
  key: ApiKey,
  projectNumber: string,
  options: { withKeyString?: boolean } = {},
): Record<string, unknown> {
  return {
    name: `projects/${projectNumber}/locations/global/keys/${key.keyId}`,
    uid: key.uid,
    ...(key.displayName ? { displayName: key.displayName } : {}),
    ...(options.withKeyString ? { keyString: key.keyString } : {}),
    createTime: key.createTime.toISOString(),
    updateTime: key.updateTime.toISOString(),
    ...(key.deleteTime ? { deleteTime: key.deleteTime.toISOString() } : {}),
    ...(Object.keys(key.annotations).length > 0 ? { annotations: { ...key.annotations } } : {}),
    ...(key.restrictions && Object.keys(key.restrictions).length > 0
      ? { restrictions: structuredClone(key.restrictions) }
      : {}),
    etag: key.etag,
    ...(key.serviceAccountEmail ? { serviceAccountEmail: key.serviceAccountEmail } : {}),
  };
}
