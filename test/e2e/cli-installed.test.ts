/**
 * `kirin status`, `reload` and `stop` find the Kirin that `kirin install` set
 * up, without flags, as `pm2 status` finds its daemon: a real master runs with
 * its state in /var/lib/<name> (as systemd's StateDirectory= gives it), the
 * unit is the one `kirin install` writes, and the commands run from a folder
 * that has no config — and from the project folder itself.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from '../support/http.ts';
import { runKirin, startKirin, tempDir, writeFiles, type KirinProcess } from '../support/kirin.ts';

describe('the installed Kirin', () => {
  const name = `ke-${randomBytes(4).toString('hex')}`;
  const stateDir = `/var/lib/${name}`;
  const unitDir = tempDir('ke-units-');
  const project = tempDir('ke-site-');
  const elsewhere = tempDir('ke-elsewhere-');
  const configFile = join(project, 'kirin.config.json');
  let kirin: KirinProcess;

  before(async () => {
    mkdirSync(stateDir, { mode: 0o700 });
    writeFiles(project, {
      'app.ts': 'export default { fetch: () => new Response("installed") };\n',
      // No stateDir: under systemd it is $STATE_DIRECTORY.
      'kirin.config.json': JSON.stringify({ workers: 1, listen: { http: ['127.0.0.1:0'] }, admin: false, sites: { '*': { '/': { app: './app.ts' } } } }),
    });
    const install = await runKirin(['install', '--name', name, '--user', 'nobody', '--unit-dir', unitDir], project);
    assert.equal(install.code, 0, install.stderr);
    kirin = await startKirin({ cwd: project, args: ['serve', '--config', configFile], env: { STATE_DIRECTORY: stateDir } });
  });

  after(async () => {
    await kirin?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('kirin status from a folder without a config talks to it, and says which one', async () => {
    const status = await runKirin(['status', '--unit-dir', unitDir], elsewhere);
    assert.equal(status.code, 0, status.stderr);
    assert.equal(status.stderr, `kirin: talking to the Kirin installed as ${name}.service (${configFile}; state in ${stateDir})\n`);
    assert.match(status.stdout, new RegExp(`^Kirin master pid ${kirin.pid}, generation 1, `));
  });

  it('kirin status in the project folder finds the state systemd gives its service', async () => {
    const status = await runKirin(['status', '--json', '--unit-dir', unitDir], project);
    assert.equal(status.code, 0, status.stderr);
    assert.equal((JSON.parse(status.stdout) as { pid: number }).pid, kirin.pid);
    assert.match(status.stderr, new RegExp(`^kirin: talking to the Kirin installed as ${name}\\.service `));
  });

  it('kirin reload reloads it', async () => {
    const reload = await runKirin(['reload', '--unit-dir', unitDir], elsewhere);
    assert.equal(reload.code, 0, reload.stderr);
    assert.equal(reload.stdout, 'reloaded: generation 2 is serving\n');
    assert.equal((await request(`${kirin.url}/`)).body, 'installed');
  });

  it('with two installed and none named, it asks which one, listing them', async () => {
    const second = tempDir('ke-site-');
    writeFiles(second, { 'app.ts': 'export default { fetch: () => new Response("2") };\n', 'kirin.config.json': JSON.stringify({ stateDir: join(second, 'state'), sites: { '*': { '/': { app: './app.ts' } } } }) });
    const units = tempDir('ke-units-');
    for (const [dir, unit] of [[project, name], [second, `${name}-b`]] as const) {
      assert.equal((await runKirin(['install', '--name', unit, '--user', 'nobody', '--unit-dir', units], dir)).code, 0);
    }
    const status = await runKirin(['status', '--unit-dir', units], elsewhere);
    assert.equal(status.code, 2);
    assert.equal(status.stderr, `kirin: no Kirin runs for ${elsewhere}, and 2 are installed; pick one:\n  ${name}-b.service: --state-dir ${join(second, 'state')}\n  ${name}.service: --state-dir ${stateDir}\n`);
  });

  it('kirin stop stops it', async () => {
    const stop = await runKirin(['stop', '--unit-dir', unitDir], elsewhere);
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal(stop.stdout, 'stopping: workers are finishing their requests\n');
    assert.equal((await kirin.exited).code, 0);
    const status = await runKirin(['status', '--unit-dir', unitDir], elsewhere);
    assert.equal(status.code, 1);
    assert.equal(
      status.stderr,
      `kirin: talking to the Kirin installed as ${name}.service (${configFile}; state in ${stateDir})\nkirin: ${name}.service is not running (no control socket at ${stateDir}/control.sock); start it: sudo systemctl start ${name}.service\n`,
    );
  });
});
