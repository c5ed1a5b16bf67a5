/**
 * The certificate store on disk. `kirin check` reads this layout; keep it:
 *
 *   <storage>/certificates/<primary-name>/cert.pem   chain, leaf first
 *                                         key.pem    private key
 *                                         meta.json  names, source, issuer, notAfter, renewAt …
 *   <storage>/acme/<directory-host>/account.json     ACME account URL and key
 *   <storage>/local-ca/root.crt, root.key, intermediate.crt, intermediate.key
 *   <storage>/locks/<primary-name>.lock              an order in progress
 *
 * A wildcard name's folder is `wildcard_.example.com` (as Caddy names it).
 */
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describeCertificate, whyUnusable } from './cert-info.ts';
import { ensurePrivateDir, writePrivateFile } from './private-files.ts';

export type CertificateSource = 'acme' | 'local' | 'files';

export interface CertificateMeta {
  names: string[];
  source: CertificateSource;
  issuer: string;
  notBefore: number;
  notAfter: number;
  /** When Kirin renews it (ms since epoch). */
  renewAt: number;
  serial: string;
  fingerprint256: string;
  /** When Kirin obtained it. */
  issuedAt: number;
  /** The ACME directory it came from, for 'acme'. */
  acmeDirectory: string | null;
}

export interface StoredCertificate {
  certPem: string;
  keyPem: string;
  meta: CertificateMeta;
}

export interface AccountRecord {
  directory: string;
  url: string;
  email: string | null;
  keyPem: string;
  createdAt: number;
}

export class CertificateStore {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  certificateDir(primary: string): string {
    return join(this.root, 'certificates', folderName(primary));
  }

  /** The stored certificate for `primary`, or null when missing, unreadable, or its key does not match. */
  readCertificate(primary: string): StoredCertificate | null {
    const found = this.inspectCertificate(primary);
    return found !== null && 'stored' in found ? found.stored : null;
  }

  /** What the folder of `primary` holds: a certificate to serve, why its files cannot be served (which file, what is wrong), or null when it holds none. */
  inspectCertificate(primary: string): { stored: StoredCertificate } | { unusable: string } | null {
    const dir = this.certificateDir(primary);
    const certFile = join(dir, 'cert.pem');
    const keyFile = join(dir, 'key.pem');
    if (!existsSync(certFile) && !existsSync(keyFile)) return null;
    try {
      const certPem = readFileSync(certFile, 'utf8');
      const keyPem = readFileSync(keyFile, 'utf8');
      const unusable = whyUnusable(certPem, keyPem, certFile, keyFile);
      if (unusable !== null) return { unusable };
      const facts = describeCertificate(certPem);
      let meta: Partial<CertificateMeta> = {};
      try {
        meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as Partial<CertificateMeta>;
      } catch {
        // The PEM files are what counts; meta.json is rebuilt from them.
      }
      const stored: StoredCertificate = {
        certPem,
        keyPem,
        meta: {
          names: facts.names,
          source: meta.source ?? 'acme',
          issuer: facts.issuer,
          notBefore: facts.notBefore,
          notAfter: facts.notAfter,
          renewAt: typeof meta.renewAt === 'number' ? meta.renewAt : facts.notAfter,
          serial: facts.serial,
          fingerprint256: facts.fingerprint256,
          issuedAt: typeof meta.issuedAt === 'number' ? meta.issuedAt : facts.notBefore,
          acmeDirectory: meta.acmeDirectory ?? null,
        },
      };
      return { stored };
    } catch (error) {
      // A file missing beside the other, or unreadable (permissions).
      return { unusable: (error as Error).message };
    }
  }

  /** Writes key, then chain, then meta; a reader that catches the pair mid-swap sees a mismatch and ignores it. */
  writeCertificate(primary: string, stored: StoredCertificate): void {
    const dir = this.certificateDir(primary);
    ensurePrivateDir(this.root, dir);
    writePrivateFile(join(dir, 'key.pem'), stored.keyPem);
    writePrivateFile(join(dir, 'cert.pem'), stored.certPem);
    writePrivateFile(join(dir, 'meta.json'), `${JSON.stringify(stored.meta, null, 2)}\n`);
  }

  accountFile(directoryUrl: string): string {
    const url = new URL(directoryUrl);
    const host = url.port ? `${url.hostname}_${url.port}` : url.hostname;
    return join(this.root, 'acme', host, 'account.json');
  }

  /**
   * The account stored for this directory, or null when there is none. A file
   * that cannot be used (not JSON, fields missing, another directory's on the
   * same host) is moved aside, not deleted: its key is the account's identity,
   * and a user may want it back.
   */
  readAccount(directoryUrl: string): { record: AccountRecord } | { unusable: string; keptAs: string } | null {
    const file = this.accountFile(directoryUrl);
    if (!existsSync(file)) return null;
    let unusable: string;
    try {
      const record = JSON.parse(readFileSync(file, 'utf8')) as Partial<AccountRecord>;
      if (record.directory !== directoryUrl) unusable = `it belongs to ${JSON.stringify(record.directory)}`;
      else if (typeof record.keyPem !== 'string' || typeof record.url !== 'string') unusable = 'it has no keyPem or url';
      else return { record: record as AccountRecord };
    } catch (error) {
      unusable = (error as Error).message;
    }
    const keptAs = `${file}.unusable-${new Date().toISOString().replaceAll(':', '-')}`;
    renameSync(file, keptAs);
    return { unusable, keptAs };
  }

  writeAccount(record: AccountRecord): void {
    const file = this.accountFile(record.directory);
    ensurePrivateDir(this.root, join(file, '..'));
    writePrivateFile(file, `${JSON.stringify(record, null, 2)}\n`);
  }

  forgetAccount(directoryUrl: string): void {
    rmSync(this.accountFile(directoryUrl), { force: true });
  }

  get localCaDir(): string {
    return join(this.root, 'local-ca');
  }

  get locksDir(): string {
    return join(this.root, 'locks');
  }

  lockFile(primary: string): string {
    return join(this.locksDir, `${folderName(primary)}.lock`);
  }
}

export function folderName(name: string): string {
  return name.startsWith('*.') ? `wildcard_.${name.slice(2)}` : name;
}
