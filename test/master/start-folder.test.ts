/**
 * Workers start in the folder Kirin was started in as the shell named it, so a
 * deploy that switches `current` to a new release is seen by every worker
 * spawned after the switch (the master's own working folder stays resolved to
 * the release it started in).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, realpathSync, renameSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startFolder } from '../../src/master/worker-handle.ts';
import { tempDir } from '../support/kirin.ts';

describe('startFolder', () => {
  it('keeps a symlinked start folder, so children follow the link when it is switched', () => {
    const root = realpathSync(tempDir());
    for (const release of ['1', '2']) mkdirSync(join(root, 'releases', release), { recursive: true });
    const current = join(root, 'current');
    symlinkSync(join(root, 'releases', '1'), current);
    const folder = startFolder(current, join(root, 'releases', '1'));
    assert.equal(folder, current);
    symlinkSync(join(root, 'releases', '2'), join(root, 'current.next'));
    renameSync(join(root, 'current.next'), current);
    const childCwd = execFileSync(process.execPath, ['-e', 'process.stdout.write(process.cwd())'], { cwd: folder, encoding: 'utf8' });
    assert.equal(childCwd, join(root, 'releases', '2'));
  });

  it('uses the real folder when PWD is unset, stale or names another folder', () => {
    const root = realpathSync(tempDir());
    assert.equal(startFolder(undefined, root), root);
    assert.equal(startFolder(join(root, 'gone'), root), root);
    assert.equal(startFolder('/', root), root);
  });
});
