/**
 * Request bodies of the IAM Service Account Credentials API, decoded the way Google's JSON
 * front end does it (proto3 JSON: unknown fields refused, Duration as `"3600s"`), with its
 * error texts. Pure functions: no state, no I/O.
 */

/** A refusal with Google's status, message and optional `google.rpc` details. */
export class IamCredentialsRefusal extends Error {
  override readonly name = 'IamCredentialsRefusal';
  constructor(
    readonly status: number,
    message: string,
    readonly details?: Record<string, unknown>[],
  ) {
    super(message);
  }
}

export interface AccessTokenRequest {
  readonly delegates: readonly string[];
  readonly scope: readonly string[];
  /** Requested lifetime; 0 = unset (proto3 default), which means one hour. */
  readonly lifetimeMs: number;
}

export interface IdTokenRequest {
  readonly delegates: readonly string[];
  readonly audience: string;
  readonly includeEmail: boolean;
}

const INVALID_ARGUMENT = 'Request contains an invalid argument.';
const DELEGATE = /^projects\/-\/serviceAccounts\/([^/]+)$/;
/** proto3 JSON Duration: optional sign, seconds, up to 9 fractional digits, `s`. */
const DURATION = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/;

/** Parses a `generateAccessToken` body. */
export function parseAccessTokenRequest(body: unknown): AccessTokenRequest {
  const fields = objectBody(body, ['delegates', 'scope', 'lifetime']);
  const scope = stringList(fields.scope, 'scope');
  if (scope.length === 0 || scope.some((s) => s.trim() === '')) {
    throw badRequest('scope', 'At least one non-empty scope is required.');
  }
  return {
    delegates: delegateList(fields.delegates),
    scope,
    lifetimeMs: duration(fields.lifetime, 'lifetime'),
  };
}

/** Parses a `generateIdToken` body (`useEmailAzp` and `organizationNumberIncluded` are accepted and have no effect here). */
export function parseIdTokenRequest(body: unknown): IdTokenRequest {
  const fields = objectBody(body, [
    'delegates',
    'audience',
    'includeEmail',
    'useEmailAzp',
    'organizationNumberIncluded',
  ]);
  for (const name of ['includeEmail', 'useEmailAzp', 'organizationNumberIncluded']) {
    if (fields[name] !== undefined && typeof fields[name] !== 'boolean')
      throw invalidValue(name, 'TYPE_BOOL', fields[name]);
  }
  if (fields.audience !== undefined && typeof fields.audience !== 'string')
    throw invalidValue('audience', 'TYPE_STRING', fields.audience);
  const audience = fields.audience ?? '';
  if (audience.trim() === '') throw badRequest('audience', 'Audience is required.');
  return { delegates: delegateList(fields.delegates), audience, includeEmail: fields.includeEmail === true };
}

/** The SA named by a delegate entry (`projects/-/serviceAccounts/{email|uniqueId}`). */
export function delegateAccount(entry: string): string {
  return DELEGATE.exec(entry)![1];
}

function objectBody(body: unknown, known: readonly string[]): Record<string, unknown> {
  if (body === undefined)
    throw new IamCredentialsRefusal(400, 'Invalid JSON payload received. Unexpected token.');
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new IamCredentialsRefusal(400, 'Invalid JSON payload received. Expected an object.');
  }
  for (const name of Object.keys(body)) {
    if (!known.includes(name)) {
      const description = `Invalid JSON payload received. Unknown name "${name}": Cannot find field.`;
      throw new IamCredentialsRefusal(400, description, [fieldViolations([{ field: '', description }])]);
    }
  }
  return body as Record<string, unknown>;
}

function stringList(value: unknown, field: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalidValue(field, 'TYPE_STRING', value);
  for (const item of value)
    if (typeof item !== 'string') throw invalidValue(`${field}[0]`, 'TYPE_STRING', item);
  return value as string[];
}

function delegateList(value: unknown): string[] {
  const delegates = stringList(value, 'delegates');
  delegates.forEach((entry, i) => {
    // Google requires the `-` wildcard; a project id in its place is invalid.
    if (!DELEGATE.test(entry))
      throw badRequest(
        `delegates[${i}]`,
        'Delegates must be of the form projects/-/serviceAccounts/{ACCOUNT_EMAIL_OR_UNIQUEID}.',
      );
  });
  return delegates;
}

function duration(value: unknown, field: string): number {
  if (value === undefined || value === null) return 0;
  const match = typeof value === 'string' ? DURATION.exec(value) : null;
  if (!match) throw invalidValue(field, 'type.googleapis.com/google.protobuf.Duration', value);
  const ms = Number(match[2]) * 1000 + Math.floor(Number(`0.${match[3] ?? '0'}`) * 1000);
  if (match[1] === '-' && ms > 0) throw badRequest(field, 'The lifetime must be a positive duration.');
  return ms;
}

function invalidValue(field: string, type: string, value: unknown): IamCredentialsRefusal {
  const shown =
    typeof value === 'string'
      ? `"${value.slice(0, 100)}"`
      : (JSON.stringify(value)?.slice(0, 100) ?? String(value));
  const description = `Invalid value at '${field}' (${type}), ${shown}`;
  return new IamCredentialsRefusal(400, `Invalid JSON payload received. ${description}`, [
    fieldViolations([{ field, description }]),
  ]);
}

/** A 400 INVALID_ARGUMENT with a BadRequest field violation. */
export function badRequest(field: string, description: string): IamCredentialsRefusal {
  return new IamCredentialsRefusal(400, INVALID_ARGUMENT, [fieldViolations([{ field, description }])]);
}

function fieldViolations(violations: { field: string; description: string }[]): Record<string, unknown> {
  return { '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: violations };
}
