/**
 * The dev watcher on real folders: a save in place, a save by rename, files it
 * was not asked about, node_modules, polling (forced and chosen by file system).
 * Waits are on the change callback, with a deadline.
 */
import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FileWatcher, pollingReason } from '../../src/dev/watcher.ts';
import { tempDir, writeFiles } from '../support/kirin.ts';

function watcher(options: { poll?: boolean } = {}) {
  const heard: string[] = [];
  const polling: string[] = [];
  let wake: (() => void) | null = null;
  const w = new FileWatcher({
    poll: options.poll ?? false,
    pollIntervalMs: 50,
    onChange: (path) => {
      heard.push(path);
      wake?.();
    },
    onPolling: (reason) => polling.push(reason),
  });
  const next = (what: string) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no change heard for ${what}; heard: ${heard.join(', ')}`)), 5_000);
      wake = () => {
        clearTimeout(timer);
        wake = null;
        resolve();
      };
    });
  return { w, heard, polling, next };
}

describe('dev watcher', () => {
  it('hears a save in place, and only for the files it watches', async () => {
    const dir = tempDir('kirin-watch-');
    writeFiles(dir, { 'a.ts': '1', 'other.ts': '1' });
    const { w, heard, next } = watcher();
    try {
      w.addFiles([join(dir, 'a.ts')]);
      const change = next('a write');
      writeFileSync(join(dir, 'other.ts'), '2');
      writeFileSync(join(dir, 'a.ts'), '2');
      await change;
      assert.ok(heard.every((p) => p === join(dir, 'a.ts')), heard.join(', '));
      assert.equal(w.polling, false, 'inotify, no timer');
    } finally {
      w.close();
    }
  });

  it('hears saves by rename (temp file renamed over the original), the second one too', async () => {
    const dir = tempDir('kirin-watch-rename-');
    writeFiles(dir, { 'a.ts': '1', 'barrier.ts': '0' });
    const { w, heard, next } = watcher();
    try {
      w.addFiles([join(dir, 'a.ts'), join(dir, 'barrier.ts')]);
      for (const round of [1, 2]) {
        // Events arrive in order: once the barrier's is heard, nothing from the last round is still on its way.
        const barrier = next(`barrier ${round}`);
        writeFileSync(join(dir, 'barrier.ts'), String(round));
        await barrier;
        await new Promise((resolve) => setImmediate(resolve));
        heard.length = 0;
        const change = next(`rename save ${round}`);
        writeFileSync(join(dir, `.a.ts.swp${round}`), `${round}`);
        renameSync(join(dir, `.a.ts.swp${round}`), join(dir, 'a.ts'));
        await change;
        assert.equal(heard[0], join(dir, 'a.ts'), `round ${round}: ${heard.join(', ')}`);
      }
    } finally {
      w.close();
    }
  });

  it('watches a static root as a tree, but not its node_modules', async () => {
    const dir = tempDir('kirin-watch-tree-');
    writeFiles(dir, { 'public/css/site.css': 'a', 'public/node_modules/x.js': '1' });
    const { w, heard, next } = watcher();
    try {
      w.addTree(join(dir, 'public'));
      const change = next('a file deep in the tree');
      writeFileSync(join(dir, 'public/node_modules/x.js'), '2');
      writeFileSync(join(dir, 'public/css/site.css'), 'b');
      await change;
      assert.deepEqual([...new Set(heard)], [join(dir, 'public/css/site.css')]);
    } finally {
      w.close();
    }
  });

  it('ignores files under node_modules and .git even when asked', () => {
    const { w } = watcher();
    w.addFiles(['/srv/app/node_modules/dep/index.js', '/srv/app/.git/HEAD']);
    assert.equal(w.polling, false);
    w.close();
  });

  it('polls with --poll, and hears a change that way', async () => {
    const dir = tempDir('kirin-watch-poll-');
    writeFiles(dir, { 'a.ts': '1' });
    const { w, next } = watcher({ poll: true });
    try {
      w.addFiles([join(dir, 'a.ts')]);
      assert.equal(w.polling, true);
      const change = next('a polled change');
      writeFileSync(join(dir, 'a.ts'), '22');
      await change;
    } finally {
      w.close();
    }
  });

  it('chooses polling for folders on network and FUSE file systems, by the statfs type', () => {
    assert.match(pollingReason('/mnt/share', () => ({ type: 0x6969 }))!, /NFS/);
    assert.match(pollingReason('/mnt/c', () => ({ type: 0x01021997 }))!, /9p/);
    assert.match(pollingReason('/home/me/sshfs', () => ({ type: 0x65735546 }))!, /FUSE/);
    assert.equal(pollingReason('/home/me/app', () => ({ type: 0xef53 /* ext4 */ })), null);
    assert.equal(pollingReason(tempDir('kirin-statfs-')), null, 'this machine\'s temp folder takes inotify');
  });
});
