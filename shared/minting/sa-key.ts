/** The Google service-account key file, as stored in Secret Manager and validated on load. */
import * as z from '../zod.js';

export const serviceAccountKeySchema = z.object({
  type: z.literal('service_account'),
  project_id: z.optional(z.string().check(z.minLength(1))),
  private_key_id: z.string().check(z.regex(/^[0-9a-f]{1,64}$/i, 'must be a hex key id')),
  private_key: z
    .string()
    .check(z.includes('-----BEGIN PRIVATE KEY-----', { error: 'must be a PKCS#8 PEM private key' })),
  client_email: z.string().check(z.email()),
  client_id: z.optional(z.string()),
  token_uri: z.string().check(z.url()),
});

export type ServiceAccountKey = z.infer<typeof serviceAccountKeySchema>;
