import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LocalCa } from '../../src/tls/local-ca.ts';
import { acquireLock, STALE_LOCK_MS } from '../../src/tls/order-lock.ts';
import { CertificateStore, type CertificateMeta } from '../../src/tls/store.ts';
import { tempDir } from '../support/kirin.ts';

const meta = (names: string[]): CertificateMeta => ({
  names,
  source: 'local',
  issuer: 'x',
  notBefore: 0,
  notAfter: 0,
  renewAt: 123,
  serial: '',
  fingerprint256: '',
  issuedAt: 42,
  acmeDirectory: null,
});

describe('certificate store', () => {
  it('writes certificates atomically with folders 0700 and files 0600, leaving no temporary files', async () => {
    const root = join(tempDir(), 'tls');
    const store = new CertificateStore(root);
    const leaf = await new LocalCa(root).issue(['a.localhost']);
    store.writeCertificate('a.localhost', { ...leaf, meta: meta(['a.localhost']) });
    store.writeCertificate('*.b.localhost', { ...(await new LocalCa(root).issue(['*.b.localhost'])), meta: meta(['*.b.localhost']) });
    for (const dir of [root, join(root, 'certificates'), join(root, 'certificates', 'a.localhost'), join(root, 'certificates', 'wildcard_.b.localhost')]) {
      assert.equal(statSync(dir).mode & 0o777, 0o700, dir);
    }
    const files = readdirSync(join(root, 'certificates', 'a.localhost')).sort();
    assert.deepEqual(files, ['cert.pem', 'key.pem', 'meta.json']);
    for (const file of files) assert.equal(statSync(join(root, 'certificates', 'a.localhost', file)).mode & 0o777, 0o600);
    const read = store.readCertificate('a.localhost')!;
    assert.deepEqual(read.meta.names, ['a.localhost']);
    assert.equal(read.meta.source, 'local');
    assert.equal(read.meta.issuedAt, 42);
    assert.ok(read.meta.notAfter > Date.now(), 'dates come from the certificate, not meta.json');
  });

  it('ignores a certificate whose key does not match (a swap caught half way)', async () => {
    const root = join(tempDir(), 'tls');
    const store = new CertificateStore(root);
    const ca = new LocalCa(root);
    const one = await ca.issue(['a.localhost']);
    const two = await ca.issue(['a.localhost']);
    store.writeCertificate('a.localhost', { ...one, meta: meta(['a.localhost']) });
    writeFileSync(join(store.certificateDir('a.localhost'), 'key.pem'), two.keyPem);
    assert.equal(store.readCertificate('a.localhost'), null);
    assert.equal(store.readCertificate('missing.localhost'), null);
  });

  it('keeps the ACME account per directory host, 0600', () => {
    const root = join(tempDir(), 'tls');
    const store = new CertificateStore(root);
    const directory = 'https://acme.example.test:14000/dir';
    store.writeAccount({ directory, url: 'https://acme.example.test/acct/1', email: null, keyPem: 'KEY', createdAt: 1 });
    const file = join(root, 'acme', 'acme.example.test_14000', 'account.json');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(store.readAccount(directory), { record: { directory, url: 'https://acme.example.test/acct/1', email: null, keyPem: 'KEY', createdAt: 1 } });
    assert.equal(store.readAccount('https://other.example.test/dir'), null);
    store.forgetAccount(directory);
    assert.equal(store.readAccount(directory), null);
  });

  it('moves an account file it cannot use aside, keeping its key, instead of overwriting it', () => {
    const root = join(tempDir(), 'tls');
    const store = new CertificateStore(root);
    const directory = 'https://acme.example.test/dir';
    store.writeAccount({ directory, url: 'https://acme.example.test/acct/1', email: null, keyPem: 'KEY', createdAt: 1 });
    const file = store.accountFile(directory);
    writeFileSync(file, '{"directory": "https://acme.example.test/dir", "keyPem": "KEY"'); // cut short by a full disk
    const found = store.readAccount(directory);
    assert.ok(found && 'unusable' in found, 'reported as unusable');
    assert.match(found.unusable, /JSON/);
    assert.equal(existsSync(file), false);
    assert.match(readFileSync(found.keptAs, 'utf8'), /"keyPem": "KEY"/);
    assert.equal(store.readAccount(directory), null, 'the next read registers anew');
    // Another directory on the same host shares the file name: its account is kept too.
    store.writeAccount({ directory: 'https://acme.example.test/other', url: 'https://acme.example.test/acct/2', email: null, keyPem: 'KEY2', createdAt: 1 });
    const other = store.readAccount(directory);
    assert.ok(other && 'unusable' in other);
    assert.equal(other.unusable, 'it belongs to "https://acme.example.test/other"');
  });
});

describe('order lock', () => {
  it('lets one holder at a time take it, and frees it on release', () => {
    const root = tempDir();
    const file = join(root, 'locks', 'a.lock');
    const first = acquireLock(file, root);
    assert.ok('release' in first);
    const second = acquireLock(file, root);
    assert.ok('heldBy' in second);
    assert.match(second.heldBy, new RegExp(`process ${process.pid}`));
    first.release();
    const third = acquireLock(file, root);
    assert.ok('release' in third);
    third.release();
  });

  it('takes over a lock left by a process that is gone, or one older than any order', () => {
    const root = tempDir();
    const file = join(root, 'locks', 'a.lock');
    acquireLock(file, root);
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    writeFileSync(file, JSON.stringify({ pid: Number(dead), host: hostname(), since: Date.now() }));
    assert.ok('release' in acquireLock(file, root), 'dead holder');
    writeFileSync(file, JSON.stringify({ pid: process.ppid, host: 'elsewhere', since: Date.now() - STALE_LOCK_MS - 1 }));
    assert.ok('release' in acquireLock(file, root), 'old lock');
    writeFileSync(file, JSON.stringify({ pid: process.ppid, host: 'elsewhere', since: Date.now() }));
    assert.ok('heldBy' in acquireLock(file, root), 'a recent lock from another machine is respected');
    assert.match(readFileSync(file, 'utf8'), /elsewhere/);
  });
});
