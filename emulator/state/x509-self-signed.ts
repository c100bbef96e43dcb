/**
 * A minimal self-signed X.509 v3 certificate (DER built by hand; Node can parse certificates but
 * not create them). Google publishes its ID-token keys twice: as a JWKS at
 * `https://www.googleapis.com/oauth2/v3/certs` and as `{kid: PEM certificate}` at
 * `https://www.googleapis.com/oauth2/v1/certs`, self-signed by
 * `CN=federated-signon.system.gserviceaccount.com`. google-auth-library's `verifyIdToken` reads the
 * PEM form under Node, so the emulator publishes both.
 */
import { createSign, randomBytes, type KeyObject } from 'node:crypto';

/** Subject and issuer common name of Google's ID-token signing certificates. */
export const GOOGLE_CERT_COMMON_NAME = 'federated-signon.system.gserviceaccount.com';

const SHA256_WITH_RSA = '1.2.840.113549.1.1.11';
const COMMON_NAME = '2.5.4.3';

export interface SelfSignedRequest {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly commonName: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** PEM of a self-signed RSA certificate (sha256WithRSAEncryption). */
export function selfSignedCertificatePem(request: SelfSignedRequest): string {
  const algorithm = sequence(oid(SHA256_WITH_RSA), tlv(0x05, Buffer.alloc(0)));
  const name = sequence(set(sequence(oid(COMMON_NAME), tlv(0x0c, Buffer.from(request.commonName, 'utf8')))));
  const serial = randomBytes(8);
  serial[0] &= 0x7f; // positive
  const tbs = sequence(
    tlv(0xa0, integer(Buffer.from([2]))), // [0] EXPLICIT version v3
    integer(serial),
    algorithm,
    name,
    sequence(utcTime(request.notBefore), utcTime(request.notAfter)),
    name,
    request.publicKey.export({ type: 'spki', format: 'der' }),
  );
  const signature = createSign('sha256').update(tbs).sign(request.privateKey);
  const der = sequence(tbs, algorithm, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const base64 = der.toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN CERTIFICATE-----\n${base64.replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
}

function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), length(content.length), content]);
}

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let rest = n; rest > 0; rest >>= 8) bytes.unshift(rest & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function sequence(...items: Buffer[]): Buffer {
  return tlv(0x30, Buffer.concat(items));
}

function set(...items: Buffer[]): Buffer {
  return tlv(0x31, Buffer.concat(items));
}

function integer(value: Buffer): Buffer {
  return tlv(0x02, value[0] & 0x80 ? Buffer.concat([Buffer.from([0]), value]) : value);
}

function oid(dotted: string): Buffer {
  const [first, second, ...rest] = dotted.split('.').map(Number);
  const bytes = [first * 40 + second];
  for (const arc of rest) {
    const chunk = [arc & 0x7f];
    for (let v = arc >> 7; v > 0; v >>= 7) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

/** UTCTime `YYMMDDHHMMSSZ` (RFC 5280 §4.1.2.5.1: dates through 2049). */
function utcTime(date: Date): Buffer {
  const iso = date.toISOString(); // 2026-12-01T10:20:30.000Z
  const text = `${iso.slice(2, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  return tlv(0x17, Buffer.from(text, 'ascii'));
}
