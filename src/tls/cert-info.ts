/**
 * What Kirin needs to know about a certificate, read with node:crypto: the
 * names it covers, who issued it, when it is valid, and whether it goes with a
 * private key. Also the one rule for when to renew.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';

export interface CertificateFacts {
  /** DNS names (and IP addresses) from subjectAltName, lower case. */
  names: string[];
  /** The issuer's common name (or the whole issuer when it has none). */
  issuer: string;
  notBefore: number;
  notAfter: number;
  serial: string;
  fingerprint256: string;
  /** The OCSP responder URL from Authority Information Access, or null. */
  ocspUrl: string | null;
}

/** The leaf (first certificate) of a PEM chain. */
export function describeCertificate(chainPem: string): CertificateFacts {
  const cert = new X509Certificate(firstPem(chainPem));
  return {
    names: subjectNames(cert),
    issuer: commonName(cert.issuer),
    notBefore: Date.parse(cert.validFrom),
    notAfter: Date.parse(cert.validTo),
    serial: cert.serialNumber,
    fingerprint256: cert.fingerprint256,
    ocspUrl: ocspUrl(cert.infoAccess),
  };
}

/** True when `keyPem` is the private key of the chain's leaf. */
export function keyMatches(chainPem: string, keyPem: string): boolean {
  try {
    return new X509Certificate(firstPem(chainPem)).checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

/**
 * Why a certificate and key read from `certFile` and `keyFile` cannot be
 * served, naming the file at fault — or null when they go together.
 */
export function whyUnusable(certPem: string, keyPem: string, certFile: string, keyFile: string): string | null {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(firstPem(certPem));
  } catch (error) {
    return `${certFile} holds no readable certificate (${(error as Error).message})`;
  }
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(keyPem);
  } catch (error) {
    return `${keyFile} holds no readable private key (${(error as Error).message})`;
  }
  return cert.checkPrivateKey(key) ? null : `${keyFile} is not the private key of ${certFile}`;
}

/**
 * Renew when a third of the lifetime is left (Caddy's and certbot's rule: 30
 * days before the end of a 90-day certificate, 2 days for a 6-day one).
 */
export function renewalTime(notBefore: number, notAfter: number): number {
  return notAfter - (notAfter - notBefore) / 3;
}

/** True when a certificate for `name` (exact, or a `*.` wildcard one label deep) covers `host`. */
export function nameCovers(name: string, host: string): boolean {
  if (name === host) return true;
  if (!name.startsWith('*.')) return false;
  const dot = host.indexOf('.');
  return dot > 0 && host.slice(dot + 1) === name.slice(2);
}

export function firstPem(chainPem: string): string {
  const end = chainPem.indexOf('-----END CERTIFICATE-----');
  if (end === -1) throw new Error('not a PEM certificate');
  return chainPem.slice(0, end + '-----END CERTIFICATE-----'.length);
}

function subjectNames(cert: X509Certificate): string[] {
  const names: string[] = [];
  for (const entry of (cert.subjectAltName ?? '').split(', ')) {
    if (entry.startsWith('DNS:')) names.push(entry.slice(4).toLowerCase());
    else if (entry.startsWith('IP Address:')) names.push(entry.slice(11).toLowerCase());
  }
  if (names.length === 0) {
    const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
    if (cn) names.push(cn.toLowerCase());
  }
  return names;
}

function commonName(dn: string): string {
  return /(?:^|\n)CN=([^\n]+)/.exec(dn)?.[1] ?? dn.replace(/\n/g, ', ');
}

function ocspUrl(infoAccess: string | undefined): string | null {
  const match = /OCSP - URI:(\S+)/.exec(infoAccess ?? '');
  return match ? match[1]! : null;
}
