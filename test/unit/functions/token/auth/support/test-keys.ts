import {
  exportJWK,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTHeaderParameters,
  type JWTPayload,
} from 'jose';

export interface TestKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** Public JWK with `kid`, `alg` and `use: sig`. */
  jwk: JWK;
}

/** A fresh signing key pair, generated inside the test. */
export async function makeKey(kid: string, alg = 'RS256'): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicKey, jwk };
}

/** Signs `claims` with `key`; `header` adds to or overrides `{ alg, kid, typ: 'JWT' }`. */
export async function signToken(
  key: TestKey,
  claims: JWTPayload,
  header: Partial<JWTHeaderParameters> & Record<string, unknown> = {},
): Promise<string> {
  const protectedHeader = { alg: key.alg, kid: key.kid, typ: 'JWT', ...header } as JWTHeaderParameters;
  const crit = Array.isArray(protectedHeader.crit)
    ? Object.fromEntries(protectedHeader.crit.map((name) => [name, true]))
    : undefined;
  return new SignJWT(claims)
    .setProtectedHeader(protectedHeader)
    .sign(key.privateKey, crit === undefined ? undefined : { crit });
}

/** A mutable clock for `now` injection (epoch ms); starts at a fixed instant. */
export function makeClock(startMs = Date.UTC(2026, 0, 15, 12, 0, 0)): {
  now: () => number;
  ms: number;
  seconds: () => number;
  advance(ms: number): void;
} {
  const clock = {
    ms: startMs,
    now: () => clock.ms,
    seconds: () => Math.floor(clock.ms / 1000),
    advance(ms: number) {
      clock.ms += ms;
    },
  };
  return clock;
}
