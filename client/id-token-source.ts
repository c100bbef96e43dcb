/**
 * Where the workload's own identity comes from: by default an ID token from the metadata server
 * (Cloud Run, Cloud Functions, GKE, GCE) with the token service's URL as audience, through
 * google-auth-library's `IdTokenClient` (which caches it and refreshes it before expiry).
 */
import type { IdTokenClient } from 'google-auth-library';

/** Returns a current OIDC ID token of the workload (e.g. GitHub Actions' or a Kubernetes projected token). */
export type IdTokenSource = () => Promise<string>;

/** An {@link IdTokenSource} backed by Application Default Credentials / the metadata server. */
export function metadataIdTokenSource(audience: string): IdTokenSource {
  let client: Promise<IdTokenClient> | undefined;
  return async () => {
    client ??= (async () => {
      const { GoogleAuth } = await import('google-auth-library');
      return new GoogleAuth().getIdTokenClient(audience);
    })();
    client.catch(() => {
      client = undefined;
    });
    const headers = await (await client).getRequestHeaders();
    const authorization = headers.get('authorization') ?? '';
    const token = authorization.replace(/^Bearer\s+/i, '');
    if (!token) throw new Error('The metadata server returned no ID token');
    return token;
  };
}
