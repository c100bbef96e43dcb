import type { KeyObject } from 'node:crypto';

/** The JSON key file Google hands out for a service-account key (`TYPE_GOOGLE_CREDENTIALS_FILE`). */
export interface GoogleKeyFile {
  type: 'service_account';
  project_id: string;
  private_key_id: string;
  /** PKCS#8 PEM. */
  private_key: string;
  client_email: string;
  client_id: string;
  auth_uri: string;
  token_uri: string;
  auth_provider_x509_cert_url: string;
  client_x509_cert_url: string;
  universe_domain: string;
}

/** Builds a key file whose `token_uri` points at the emulator. */
export function buildKeyFile(input: {
  account: { email: string; uniqueId: string; projectId: string };
  keyId: string;
  privateKey: KeyObject;
  tokenUrl: string;
}): GoogleKeyFile {
  const { account } = input;
  return {
    type: 'service_account',
    project_id: account.projectId,
    private_key_id: input.keyId,
    private_key: input.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    client_email: account.email,
    client_id: account.uniqueId,
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: input.tokenUrl,
    auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
    client_x509_cert_url: `https://www.googleapis.com/robot/v1/metadata/x509/${encodeURIComponent(account.email)}`,
    universe_domain: 'googleapis.com',
  };
}
