/** The Google service-account key file, as stored in Secret Manager and validated on load. */
import { z } from 'zod';

export const serviceAccountKeySchema = z.object({
  type: z.literal('service_account'),
  project_id: z.string().min(1).optional(),
  private_key_id: z.string().regex(/^[0-9a-f]{1,64}$/i, 'must be a hex key id'),
  private_key: z
    .string()
    .includes('-----BEGIN PRIVATE KEY-----', { message: 'must be a PKCS#8 PEM private key' }),
  client_email: z.string().email(),
  client_id: z.string().optional(),
  token_uri: z.string().url(),
});

export type ServiceAccountKey = z.infer<typeof serviceAccountKeySchema>;
