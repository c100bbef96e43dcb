/**
 * Points stock google-auth-library at the emulator's metadata server for one test file, and
 * restores the environment afterwards. gcp-metadata reads GCE_METADATA_HOST on every request.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ENV_KEYS = [
  'GCE_METADATA_HOST',
  'GCE_METADATA_IP',
  'GOOGLE_APPLICATION_CREDENTIALS',
  'GOOGLE_CLOUD_PROJECT',
  'GCLOUD_PROJECT',
  'CLOUDSDK_CONFIG',
  'METADATA_SERVER_DETECTION',
];

export function useEmulatorMetadata(metadataHost: string): () => void {
  const saved = new Map(ENV_KEYS.map((k) => [k, process.env[k]]));
  for (const key of ENV_KEYS) delete process.env[key];
  process.env.GCE_METADATA_HOST = metadataHost;
  // GoogleAuth may ask gcloud for a project: give it an empty config, never the user's.
  const dir = mkdtempSync(join(tmpdir(), 'tvs-gcloud-'));
  process.env.CLOUDSDK_CONFIG = dir;
  return () => {
    for (const [key, value] of saved) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    rmSync(dir, { recursive: true, force: true });
  };
}
