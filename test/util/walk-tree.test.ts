/**
 * The shared bounded walk: every entry once, folders entered only when the
 * caller says, links never followed (a loop ends), and a cap that stops it.
 */
import assert from 'node:assert/strict';
import { symlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { walkTree } from '../../src/util/walk-tree.ts';
import { tempDir, writeFiles } from '../support/kirin.ts';

describe('walkTree', () => {
  it('visits every entry, enters the folders the caller accepts, and does not follow a link back up', () => {
    const root = tempDir('kirin-walk-');
    writeFiles(root, { 'a.txt': '', 'sub/b.txt': '', 'sub/deeper/c.txt': '', 'skip/d.txt': '' });
    symlinkSync(root, join(root, 'sub', 'loop'));
    const seen: string[] = [];
    const complete = walkTree(root, 100, (path, entry) => {
      seen.push(relative(root, path));
      return entry.name !== 'skip';
    });
    assert.equal(complete, true);
    assert.deepEqual(seen.sort(), ['a.txt', 'skip', 'sub', 'sub/b.txt', 'sub/deeper', 'sub/deeper/c.txt', 'sub/loop']);
  });

  it('stops at the limit and says so', () => {
    const root = tempDir('kirin-walk-');
    writeFiles(root, { '1': '', '2': '', '3': '' });
    let visits = 0;
    assert.equal(walkTree(root, 2, () => (visits++, true)), false);
    assert.equal(visits, 2);
    assert.equal(walkTree(join(root, 'missing'), 2, () => true), true, 'an unreadable folder is passed over');
  });
});
