import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  GOOGLE_CERT_COMMON_NAME,
  selfSignedCertificatePem,
} from '../../../emulator/state/x509-self-signed.js';

describe('selfSignedCertificatePem', () => {
  it('builds a certificate Node parses, of the given key, self-signed, valid for the given window', () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const notBefore = new Date(Date.UTC(2026, 11, 1, 0, 0, 0));
    const notAfter = new Date(Date.UTC(2026, 11, 15, 0, 0, 0));

    const pem = selfSignedCertificatePem({
      privateKey,
      publicKey,
      commonName: GOOGLE_CERT_COMMON_NAME,
      notBefore,
      notAfter,
    });

    expect(pem).toMatch(/^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+\n-----END CERTIFICATE-----\n$/);
    const cert = new X509Certificate(pem);
    expect(cert.subject).toBe(`CN=${GOOGLE_CERT_COMMON_NAME}`);
    expect(cert.issuer).toBe(cert.subject);
    expect(new Date(cert.validFrom).getTime()).toBe(notBefore.getTime());
    expect(new Date(cert.validTo).getTime()).toBe(notAfter.getTime());
    expect(cert.publicKey.equals(publicKey)).toBe(true);
    expect(cert.verify(publicKey)).toBe(true);
    expect(cert.verify(other.publicKey)).toBe(false);
  });
});
