/**
 * Kirin's own certificate authority for local names (localhost, *.localhost,
 * *.local, *.internal, *.test): a root (10 years) and an intermediate (1 year)
 * made on first use in <storage>/local-ca, and leaf certificates (90 days,
 * renewed like any other) signed by the intermediate. `kirin trust`
 * installs the root; nothing else ever leaves this machine.
 *
 * Built with @peculiar/x509 on WebCrypto (already in the tree for acme-client):
 * ECDSA P-256 throughout, the same key type as ACME certificates.
 */
import { randomBytes, X509Certificate as NodeX509 } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import type * as X509 from '@peculiar/x509';
import type { Logger } from '../observe/log.ts';
import { renewalTime, whyUnusable } from './cert-info.ts';
import { ensurePrivateDir, writePrivateFile } from './private-files.ts';

const subtle = globalThis.crypto.subtle;

/** Loaded on first use: a master without local sites (or `kirin certs`) never pays for it. */
let x509: typeof X509;
async function loadX509(): Promise<void> {
  if (x509) return;
  x509 = await import('@peculiar/x509');
  x509.cryptoProvider.set(globalThis.crypto);
}

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY = 86_400_000;
export const ROOT_LIFETIME_MS = 3650 * DAY;
export const INTERMEDIATE_LIFETIME_MS = 365 * DAY;
/** As long as a Let's Encrypt certificate, renewed the same way (a third left): `kirin check` and testssl.sh judge them alike. */
export const LEAF_LIFETIME_MS = 90 * DAY;
/** Clocks of other machines on the network may be a little behind. */
const BACKDATE_MS = 60 * 60_000;

interface Authority {
  cert: X509.X509Certificate;
  pem: string;
  key: CryptoKey;
}

export interface IssuedLeaf {
  /** Leaf then intermediate. */
  certPem: string;
  keyPem: string;
}

export class LocalCa {
  readonly dir: string;
  readonly #storageRoot: string;
  readonly #now: () => number;
  readonly #logger: Pick<Logger, 'warn'> | null;
  #intermediate: Authority | null = null;
  #rootPem = '';
  #ready: Promise<Authority> | null = null;

  /** `logger` hears about files found unusable and replaced; none for one-shot commands. */
  constructor(storageRoot: string, now: () => number = Date.now, logger: Pick<Logger, 'warn'> | null = null) {
    this.#storageRoot = storageRoot;
    this.#logger = logger;
    this.dir = join(storageRoot, 'local-ca');
    this.#now = now;
  }

  get rootPath(): string {
    return join(this.dir, 'root.crt');
  }

  /** Creates the root and intermediate if they are missing (or the intermediate is due), once. */
  ensure(): Promise<Authority> {
    const current = this.#intermediate;
    if (current && this.#now() < renewalTime(current.cert.notBefore.getTime(), current.cert.notAfter.getTime())) return Promise.resolve(current);
    this.#ready ??= this.#load().finally(() => (this.#ready = null));
    return this.#ready;
  }

  async issue(names: string[]): Promise<IssuedLeaf> {
    const intermediate = await this.ensure();
    const keys = await newKeys();
    const sans = names.map((name) => (isIpAddress(name) ? { type: 'ip' as const, value: name } : { type: 'dns' as const, value: name }));
    const cert = await this.#sign(`CN=${names[0]}`, intermediate, LEAF_LIFETIME_MS, keys.publicKey, [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(sans, false),
    ]);
    return { certPem: `${cert.toString('pem')}\n${intermediate.pem}`, keyPem: await exportKey(keys.privateKey) };
  }

  /** True when `chainPem` (leaf, intermediate) was issued under this CA's current root. */
  async issued(chainPem: string): Promise<boolean> {
    await this.ensure();
    const [leaf, intermediate] = chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    if (!leaf || !intermediate) return false;
    try {
      const middle = new NodeX509(intermediate);
      return new NodeX509(leaf).verify(middle.publicKey) && middle.verify(new NodeX509(this.#rootPem).publicKey);
    } catch {
      return false;
    }
  }

  async #load(): Promise<Authority> {
    await loadX509();
    ensurePrivateDir(this.#storageRoot, this.dir);
    const foundRoot = await this.#read('root');
    const rootUsable = foundRoot !== null && !('unusable' in foundRoot);
    const root = rootUsable ? foundRoot : await this.#createRoot();
    // Never replaced in silence: a new root means every browser that trusted the old one must be told again.
    if (!rootUsable && foundRoot !== null) {
      this.#warn(foundRoot.unusable, `the local CA root cannot be used: ${foundRoot.unusable}; created a new root in ${this.dir} — browsers and systems that trusted the old one must trust the new one (kirin trust)`);
    }
    this.#rootPem = root.pem;
    const found = await this.#read('intermediate');
    let intermediate: Authority | null = null;
    if (found !== null && 'unusable' in found) this.#warn(found.unusable, `the local CA intermediate cannot be used: ${found.unusable}; created a new intermediate`);
    // Under a new root, the old intermediate goes with the old root.
    else if (found !== null && rootUsable) {
      if (await found.cert.verify({ publicKey: root.cert.publicKey, signatureOnly: true })) intermediate = found;
      else this.#warn('not signed by the root', `the local CA intermediate in ${this.dir} was not signed by its root; created a new intermediate`);
    }
    if (!intermediate || this.#now() >= renewalTime(intermediate.cert.notBefore.getTime(), intermediate.cert.notAfter.getTime())) {
      intermediate = await this.#createIntermediate(root);
    }
    this.#intermediate = intermediate;
    return intermediate;
  }

  #warn(problem: string, message: string): void {
    this.#logger?.warn({ dir: this.dir, problem }, message);
  }

  /** The root or intermediate on disk; why its files cannot be used (which file, what is wrong); or null when there are none. */
  async #read(name: 'root' | 'intermediate'): Promise<Authority | { unusable: string } | null> {
    const certFile = join(this.dir, `${name}.crt`);
    const keyFile = join(this.dir, `${name}.key`);
    if (!existsSync(certFile) && !existsSync(keyFile)) return null;
    try {
      const pem = readFileSync(certFile, 'utf8').trim();
      const keyPem = readFileSync(keyFile, 'utf8');
      const unusable = whyUnusable(pem, keyPem, certFile, keyFile);
      if (unusable !== null) return { unusable };
      const cert = new x509.X509Certificate(pem);
      if (cert.notAfter.getTime() <= this.#now()) return { unusable: `${certFile} expired on ${cert.notAfter.toISOString()}` };
      const key = await subtle.importKey('pkcs8', pemBody(keyPem), EC, false, ['sign']);
      return { cert, pem, key };
    } catch (error) {
      // One file without the other, unreadable, or a key of another kind than Kirin makes.
      return { unusable: (error as Error).message };
    }
  }

  async #createRoot(): Promise<Authority> {
    const keys = await newKeys();
    const now = this.#now();
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(),
      name: `CN=Kirin Local Root CA (${userInfo().username}@${hostname()}), O=Kirin local CA`,
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: new Date(now + ROOT_LIFETIME_MS),
      signingAlgorithm: SIGNING,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, 1, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    return this.#save('root', cert, keys.privateKey);
  }

  async #createIntermediate(root: Authority): Promise<Authority> {
    const keys = await newKeys();
    const subject = `CN=Kirin Local Intermediate CA ${new Date(this.#now()).toISOString().slice(0, 10)}, O=Kirin local CA`;
    const cert = await this.#sign(subject, root, INTERMEDIATE_LIFETIME_MS, keys.publicKey, [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
    ]);
    return this.#save('intermediate', cert, keys.privateKey);
  }

  /** A certificate for `publicKey` signed by `issuer`, never outliving it, with key identifiers that link the chain. */
  async #sign(subject: string, issuer: Authority, lifetimeMs: number, publicKey: CryptoKey, extensions: X509.Extension[]): Promise<X509.X509Certificate> {
    const now = this.#now();
    return x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject,
      issuer: issuer.cert.subject,
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: new Date(Math.min(now + lifetimeMs, issuer.cert.notAfter.getTime())),
      signingAlgorithm: SIGNING,
      publicKey,
      signingKey: issuer.key,
      extensions: [...extensions, await x509.SubjectKeyIdentifierExtension.create(publicKey), await x509.AuthorityKeyIdentifierExtension.create(issuer.cert.publicKey)],
    });
  }

  async #save(name: 'root' | 'intermediate', cert: X509.X509Certificate, key: CryptoKey): Promise<Authority> {
    const pem = cert.toString('pem');
    // Key first: a certificate on disk always has its key.
    writePrivateFile(join(this.dir, `${name}.key`), await exportKey(key));
    writePrivateFile(join(this.dir, `${name}.crt`), `${pem}\n`);
    return { cert, pem, key };
  }
}

function newKeys(): Promise<CryptoKeyPair> {
  return subtle.generateKey(EC, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
}

async function exportKey(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await subtle.exportKey('pkcs8', key));
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN PRIVATE KEY-----\n${lines.join('\n')}\n-----END PRIVATE KEY-----\n`;
}

function pemBody(pem: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64'));
}

/** 16 random bytes, positive (top bit clear) as DER integers want. */
function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString('hex');
}

function isIpAddress(name: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(name) || name.includes(':');
}
