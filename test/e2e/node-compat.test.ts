/**
 * Kirin supports Node 22.12, the oldest release with everything it needs. This
 * installs that exact Node from the npm registry (once per machine, cached in
 * the temp folder) and serves a TypeScript app with it — the path that needs
 * --experimental-strip-types and, without process.execve, runs the master as a
 * child process of the CLI with it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { request } from '../support/http.ts';
import { ROOT, startKirin, tempDir } from '../support/kirin.ts';

const OLDEST = '22.12.0';

function oldestNode(): string {
  const dir = join(tmpdir(), `kirin-node-${OLDEST}`);
  const binary = join(dir, 'node_modules', 'node', 'bin', 'node');
  if (!existsSync(binary)) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'oldest-node', version: '1.0.0', private: true, allowScripts: { node: true } }));
    execFileSync('npm', ['install', '--no-audit', '--no-fund', `node@${OLDEST}`], { cwd: dir, stdio: 'ignore', timeout: 180_000 });
  }
  return binary;
}

describe(`Node ${OLDEST}`, () => {
  it('serves a TypeScript app with the oldest supported Node', async () => {
    const node = oldestNode();
    assert.equal(execFileSync(node, ['-v'], { encoding: 'utf8' }).trim(), `v${OLDEST}`);
    const dir = tempDir();
    copyFileSync(join(ROOT, 'test/fixtures/apps/pid-fetch.ts'), join(dir, 'app.ts'));
    const kirin = await startKirin({ cwd: dir, node, args: ['serve', 'app.ts', '--workers', '1', '--bind', '127.0.0.1:0', '--state-dir', join(dir, 'state')] });
    try {
      const res = await request(`${kirin.url}/`);
      assert.equal(res.status, 200);
      assert.match(res.body, /^v1 \d+$/);
    } finally {
      await kirin.stop();
    }
  });

  it("exits as its master did: 128 + the signal's number when the master is killed", async () => {
    const dir = tempDir();
    copyFileSync(join(ROOT, 'test/fixtures/apps/pid-fetch.ts'), join(dir, 'app.ts'));
    const kirin = await startKirin({ cwd: dir, node: oldestNode(), args: ['serve', 'app.ts', '--workers', '1', '--bind', '127.0.0.1:0', '--state-dir', join(dir, 'state')] });
    try {
      const worker = Number(/^v1 (\d+)$/.exec((await request(`${kirin.url}/`)).body)![1]);
      // /proc/PID/stat: "pid (comm) state ppid …"; the worker's parent is the master, the CLI's child.
      const master = Number(readFileSync(`/proc/${worker}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
      assert.notEqual(master, kirin.pid, 'the master runs in the CLI process: this Node has execve, the test needs the fallback');
      process.kill(master, 'SIGKILL');
      assert.deepEqual(await kirin.exited, { code: 128 + 9, signal: null });
    } finally {
      await kirin.stop();
    }
  });
});
