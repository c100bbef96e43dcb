/** Request bodies and the `{sub}` path segment of the user routes, parsed strictly. */
import { InvalidArgumentError } from '../../../shared/errors.js';
import * as z from '../../../shared/zod.js';

const scope = z
  .string()
  .check(
    z.minLength(1),
    z.maxLength(512),
    z.regex(/^https:\/\/[\x21-\x7e]+$/, 'must be an https scope URL without spaces'),
  );

/** `:generateAccessToken` for a user: like IAM Credentials' body, without lifetime or delegates (Google decides the lifetime). */
export const userAccessTokenBody = z.strictObject({
  scope: z.array(scope).check(z.minLength(1, 'at least one scope is required'), z.maxLength(64)),
});

/** `:revokeGrant`: why (USER when the consent page asks on the user's behalf); default ADMIN. */
export const revokeGrantBody = z.strictObject({
  reason: z._default(z.enum(['USER', 'ADMIN']), 'ADMIN'),
});

/** A Google account id as ID tokens carry it in `sub`: digits, at most 255 characters. */
const SUB = /^[0-9]{1,255}$/;

/** The path's `{sub}` (already percent-decoded by the router); anything but a Google account id is refused. */
export function parseUserSub(sub: string): string {
  if (!SUB.test(sub))
    throw new InvalidArgumentError('The user must be a numeric Google account id.', {
      reason: 'INVALID_USER_ID',
      metadata: { field: 'sub' },
    });
  return sub;
}
