import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LEAF_LIFETIME_MS, LocalCa } from '../../src/tls/local-ca.ts';
import { tempDir } from '../support/kirin.ts';

function chain(pem: string): X509Certificate[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((p) => new X509Certificate(p));
}

describe('local CA', () => {
  it('creates a root and an intermediate on first use (0600) and issues leaves that chain to the root', async () => {
    const storage = tempDir();
    const ca = new LocalCa(storage);
    const leaf = await ca.issue(['app.localhost', '*.app.localhost', '127.0.0.1']);
    for (const file of ['root.crt', 'root.key', 'intermediate.crt', 'intermediate.key']) assert.equal(statSync(join(storage, 'local-ca', file)).mode & 0o777, 0o600);
    const root = new X509Certificate(readFileSync(ca.rootPath));
    const [cert, intermediate] = chain(leaf.certPem);
    assert.ok(cert && intermediate);
    assert.ok(cert.verify(intermediate.publicKey) && intermediate.verify(root.publicKey));
    assert.equal(root.ca, true);
    assert.equal(intermediate.ca, true);
    assert.equal(cert.ca, false);
    assert.equal(cert.subjectAltName, 'DNS:app.localhost, DNS:*.app.localhost, IP Address:127.0.0.1');
    assert.equal(cert.checkHost('x.app.localhost'), '*.app.localhost');
    assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1');
    assert.ok(Date.parse(cert.validTo) - Date.now() <= LEAF_LIFETIME_MS);
    assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.ok(await ca.issued(leaf.certPem));
  });

  it('keeps its root across restarts, and tells its own leaves from another CA’s', async () => {
    const storage = tempDir();
    const first = await new LocalCa(storage).issue(['a.localhost']);
    const again = new LocalCa(storage);
    const second = await again.issue(['a.localhost']);
    assert.equal(chain(first.certPem)[1]!.fingerprint256, chain(second.certPem)[1]!.fingerprint256, 'the same intermediate');
    assert.ok(await again.issued(first.certPem));
    const stranger = await new LocalCa(tempDir()).issue(['a.localhost']);
    assert.equal(await again.issued(stranger.certPem), false);
  });
});
