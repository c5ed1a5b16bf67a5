/**
 * A state folder whose certificate or key files are damaged (a disk, a bad
 * restore, a hand edit) is repaired at start — and the log says what was found,
 * in which file, and what Kirin did about it, instead of replacing it in silence.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startKirin, tempDir, writeFiles, type KirinProcess } from '../support/kirin.ts';
import { tlsRequest } from '../support/tls-client.ts';

describe('damaged TLS state at start', () => {
  const dir = tempDir('kirin-tls-repair-');
  const tls = join(dir, 'state', 'tls');
  let kirin: KirinProcess | undefined;
  after(() => kirin?.stop());

  writeFiles(dir, {
    'kirin.config.json': JSON.stringify({
      workers: 1,
      admin: false,
      stateDir: './state',
      listen: { https: ['127.0.0.1:0'] },
      sites: { 'app.localhost': { '/': { respond: 'hello' } } },
    }),
  });
  const start = async () => {
    kirin = await startKirin({ cwd: dir, args: ['serve', '--config', 'kirin.config.json'] });
    return Number(new URL(kirin.urls[0]!).port);
  };
  const get = async (port: number) => tlsRequest({ port, host: 'app.localhost', ca: readFileSync(join(tls, 'local-ca', 'root.crt')) });

  it('names each unusable file and what replaced it, then serves with the new files', async () => {
    assert.equal((await get(await start())).body, 'hello');
    await kirin!.stop();

    writeFileSync(join(tls, 'local-ca', 'root.crt'), 'not a certificate\n');
    writeFileSync(join(tls, 'local-ca', 'intermediate.key'), '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
    writeFileSync(join(tls, 'certificates', 'app.localhost', 'key.pem'), '');

    const port = await start();
    const warned = (pattern: RegExp) => kirin!.waitForLine((line) => line.level === 'warn' && pattern.test(line.msg ?? ''), 20_000, `a warning matching ${pattern}`);
    const root = await warned(/local CA root cannot be used/);
    assert.match(root.msg!, /root\.crt holds no readable certificate/);
    assert.match(root.msg!, /created a new root .* must trust the new one \(kirin trust\)/);
    const intermediate = await warned(/local CA intermediate cannot be used/);
    assert.match(intermediate.msg!, /intermediate\.key holds no readable private key/);
    assert.match(intermediate.msg!, /created a new intermediate/);
    const site = await warned(/stored certificate for app\.localhost cannot be used/);
    assert.match(site.msg!, /certificates\/app\.localhost\/key\.pem holds no readable private key/);
    assert.match(site.msg!, /issuing a new one from the local CA to replace it/);

    // What was done: the site answers with a chain that verifies against the new root.
    const answer = await get(port);
    assert.equal(answer.body, 'hello');
  });
});
