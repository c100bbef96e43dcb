/**
 * The token function's OWN access token — its runtime identity, from the metadata server on
 * Cloud Functions / Cloud Run (Application Default Credentials) — through google-auth-library,
 * loaded lazily so it stays off the cold-start path of key-only deployments.
 *
 * Caching, verified in google-auth-library 10.x: the ADC client (`Compute`) keeps the token in
 * `credentials` and refreshes it only when it expires within `eagerRefreshThresholdMillis`
 * (default 5 min), and concurrent refreshes share one promise (`refreshTokenPromises`). We add
 * our own single flight on top, so a burst of cold calls makes one metadata request even
 * before the client exists.
 */
import { SingleFlight } from '../http/singleflight.js';

/** A source of the caller-side access token for IAM Credentials calls. */
export interface OwnCredential {
  /** A valid access token (cached and refreshed ahead by the implementation). */
  accessToken(): Promise<string>;
  /** Forgets the cached token, e.g. after Google answered 401 to it. */
  invalidate(): void;
}

type AuthClient = import('google-auth-library').AuthClient;

/** Scope IAM Credentials accepts. */
export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

/**
 * ADC through google-auth-library's `GoogleAuth` with the cloud-platform scope. Pass the
 * project id when known: without it `getClient()` looks the project up, which includes running
 * `gcloud config config-helper` where gcloud is installed (seconds, on the first mint).
 */
export function applicationDefaultCredential(options: { projectId?: string } = {}): OwnCredential {
  let client: Promise<AuthClient> | undefined;
  const getClient = (): Promise<AuthClient> => {
    client ??= import('google-auth-library').then(({ GoogleAuth }) =>
      new GoogleAuth({
        scopes: [CLOUD_PLATFORM_SCOPE],
        ...(options.projectId ? { projectId: options.projectId } : {}),
      }).getClient(),
    );
    client.catch(() => {
      client = undefined;
    });
    return client;
  };
  const flights = new SingleFlight<'token', string>();
  return {
    accessToken: () =>
      flights.do('token', async () => {
        const { token } = await (await getClient()).getAccessToken();
        if (!token) throw new Error('google-auth-library returned no access token');
        return token;
      }),
    invalidate() {
      // Marking the cached credential expired makes the client fetch a new one on next use.
      void client?.then(
        (c) => c.setCredentials({ ...c.credentials, expiry_date: 1 }),
        () => undefined,
      );
    },
  };
}
