import { fetchJsonDocument, type DocumentFetchLimits } from './fetch-json-document.js';
import { isTrustedFetchUrl } from './key-url.js';

/**
 * Reads `jwks_uri` from the configured issuer's own OIDC discovery document (OpenID Connect
 * Discovery 1.0 §4). The document must name the same issuer (§4.3) and the JWKS must be served
 * over https (http only on loopback). The JWKS host may differ from the issuer's: Google's does.
 */
export async function discoverJwksUri(issuer: string, limits: DocumentFetchLimits): Promise<string> {
  const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  const { body } = await fetchJsonDocument(url, limits);
  if (body.issuer !== issuer) {
    throw new Error(
      `discovery document at ${url} names issuer ${JSON.stringify(body.issuer)?.slice(0, 200)}, not ${issuer}`,
    );
  }
  const jwksUri = body.jwks_uri;
  // A document may point at plain-http loopback only when it was itself fetched over plain-http
  // loopback (a local test issuer): a real issuer's document must never make us call our own host.
  const plainLoopbackAllowed = url.startsWith('http:') && isTrustedFetchUrl(url);
  if (
    typeof jwksUri !== 'string' ||
    !isTrustedFetchUrl(jwksUri) ||
    (jwksUri.startsWith('http:') && !plainLoopbackAllowed)
  ) {
    throw new Error(`discovery document at ${url} has no https jwks_uri`);
  }
  return jwksUri;
}
