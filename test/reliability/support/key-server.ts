/**
 * A tiny JWKS server on loopback with its own RSA key: the trusted external issuer of the
 * reliability tests (configured in TVS_OIDC_ISSUERS), or an attacker's key host whose hit
 * counter proves the service never fetched from it.
 */
import { KeyObject, sign as rsaSign } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

export interface KeyServer {
  /** `http://127.0.0.1:PORT` — also the issuer string. */
  url: string;
  jwksUrl: string;
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
  /** Requests seen, any path. */
  hits(): number;
  /** Signs `claims` with this server's key; header defaults to `{alg: RS256, kid, typ: JWT}`. */
  sign(claims: JWTPayload, header?: Record<string, unknown>): Promise<string>;
  /** RS256 over exactly the given header and payload, bypassing jose's checks (e.g. a `crit` it would refuse). */
  signRaw(header: Record<string, unknown>, claims: unknown): string;
  stop(): Promise<void>;
}

export async function startKeyServer(): Promise<KeyServer> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = `kid-${Math.random().toString(36).slice(2)}`;
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  let hits = 0;
  const server: Server = createServer((_req, res) => {
    hits += 1;
    const body = JSON.stringify({ keys: [publicJwk] });
    res.writeHead(200, {
      'content-type': 'application/json',
      'cache-control': 'public, max-age=3600',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    jwksUrl: `${url}/jwks`,
    kid,
    privateKey,
    publicJwk,
    hits: () => hits,
    sign: (claims, header = {}) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT', ...header }).sign(privateKey),
    signRaw(header, claims) {
      const input = `${b64(header)}.${b64(claims)}`;
      return `${input}.${rsaSign('sha256', Buffer.from(input), KeyObject.from(privateKey)).toString('base64url')}`;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
