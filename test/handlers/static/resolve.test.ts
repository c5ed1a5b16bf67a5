import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { isInside, isServablePath, resolvePath, type ResolveOptions } from '../../../src/handlers/static/resolve.ts';
import { tempDir, writeFiles } from '../../support/kirin.ts';

describe('isServablePath', () => {
  it('refuses dotfiles, dot-folders and dot segments anywhere', () => {
    for (const path of ['/.env', '/.git/config', '/a/.htaccess', '/a/../b', '/./a', '/a/.', '/.well-known/.secret', '/a/.well-known/x', '/a\\b', '/a\0b']) {
      assert.equal(isServablePath(path), false, path);
    }
  });

  it('allows ordinary paths and a leading .well-known', () => {
    for (const path of ['/', '', '/a/b.c', '/a.b/c', '/.well-known/security.txt', '/x..y', '/a/b.']) {
      assert.equal(isServablePath(path), true, path);
    }
  });
});

describe('isInside', () => {
  it('checks the path boundary, not a string prefix', () => {
    assert.equal(isInside('/srv/root', '/srv/root'), true);
    assert.equal(isInside('/srv/root', '/srv/root/a'), true);
    assert.equal(isInside('/srv/root', '/srv/root-secret/a'), false);
    assert.equal(isInside('/srv/root', '/srv/rootx'), false);
    assert.equal(isInside('/srv/root', '/srv'), false);
    assert.equal(isInside('/', '/etc/passwd'), true);
  });
});

describe('resolvePath', () => {
  let dir: string;
  let options: ResolveOptions;
  before(() => {
    dir = tempDir();
    writeFiles(dir, {
      'root/index.html': 'home',
      'root/app.js': 'js',
      'root/app.js.br': 'br',
      'root/app.js.gz': 'gz',
      'root/old.css': 'css',
      'root/old.css.gz': 'stale gz',
      'root/docs/index.html': 'docs',
      'root/empty/keep.txt': 'x',
      'root/.env': 'SECRET=1',
      'root/.git/config': '[core]',
      'root/.well-known/security.txt': 'Contact: x',
      'root-secret/secret.txt': 'secret',
      'outside.txt': 'outside',
    });
    const root = join(dir, 'root');
    symlinkSync(join(dir, 'root-secret', 'secret.txt'), join(root, 'escape.txt'));
    symlinkSync(join(dir, 'root-secret'), join(root, 'escape-dir'));
    symlinkSync('app.js', join(root, 'alias.js'));
    symlinkSync('.env', join(root, 'env.txt'));
    symlinkSync(join(dir, 'outside.txt'), join(root, 'app2.js'));
    writeFiles(dir, { 'root/app2.js.gz': 'gz' });
    // The stale sidecar is older than its file.
    utimesSync(join(root, 'old.css.gz'), new Date(2000, 0, 1), new Date(2000, 0, 1));
    execFileSync('mkfifo', [join(root, 'pipe')]);
    mkdirSync(join(root, 'folder.with.dot'));
    options = { root, index: ['index.html'] };
  });

  it('finds a file with its sidecars', async () => {
    const found = await resolvePath('/app.js', options);
    assert.equal(found.kind, 'file');
    if (found.kind !== 'file') return;
    assert.equal(found.name, 'app.js');
    assert.ok(found.br && found.gzip);
    assert.ok(found.identity.path.endsWith('/root/app.js'));
  });

  it('ignores a sidecar older than its file', async () => {
    const found = await resolvePath('/old.css', options);
    assert.equal(found.kind, 'file');
    if (found.kind !== 'file') return;
    assert.equal(found.gzip, null);
    assert.equal(found.stale.length, 1);
  });

  it('serves a folder through its index, redirects it without the slash, never lists it', async () => {
    const docs = await resolvePath('/docs/', options);
    assert.equal(docs.kind, 'file');
    if (docs.kind === 'file') assert.equal(docs.name, 'index.html');
    assert.equal((await resolvePath('/docs', options)).kind, 'redirect');
    assert.equal((await resolvePath('', options)).kind, 'redirect');
    assert.equal((await resolvePath('/', options)).kind, 'file');
    assert.equal((await resolvePath('/empty/', options)).kind, 'missing');
    assert.equal((await resolvePath('/empty', options)).kind, 'missing');
  });

  it('finds nothing for a missing file, a file asked for as a folder, or a FIFO', async () => {
    assert.equal((await resolvePath('/nope.js', options)).kind, 'missing');
    assert.equal((await resolvePath('/app.js/', options)).kind, 'missing');
    assert.equal((await resolvePath('/app.js/x', options)).kind, 'missing');
    assert.equal((await resolvePath('/pipe', options)).kind, 'missing');
  });

  it('hides dotfiles, but not .well-known', async () => {
    assert.equal((await resolvePath('/.env', options)).kind, 'hidden');
    assert.equal((await resolvePath('/.git/config', options)).kind, 'hidden');
    assert.equal((await resolvePath('/.well-known/security.txt', options)).kind, 'file');
  });

  it('hides symlinks that leave the root, into a sibling with the same prefix too', async () => {
    assert.equal((await resolvePath('/escape.txt', options)).kind, 'hidden');
    assert.equal((await resolvePath('/escape-dir/secret.txt', options)).kind, 'hidden');
    // The sidecar next to an escaping file does not make it servable.
    assert.equal((await resolvePath('/app2.js', options)).kind, 'hidden');
  });

  it('follows symlinks inside the root, but not to a dotfile', async () => {
    const alias = await resolvePath('/alias.js', options);
    assert.equal(alias.kind, 'file');
    if (alias.kind === 'file') assert.equal(alias.name, 'alias.js');
    assert.equal((await resolvePath('/env.txt', options)).kind, 'hidden');
  });

  it('refuses .. even if a caller forgot to normalize', async () => {
    assert.equal((await resolvePath('/../root-secret/secret.txt', options)).kind, 'hidden');
    assert.equal((await resolvePath('/docs/../../outside.txt', options)).kind, 'hidden');
  });

  it('serves from a root that is a symlink (deploys that flip current → release)', async () => {
    const current = join(dir, 'current');
    symlinkSync(join(dir, 'root'), current);
    const found = await resolvePath('/app.js', { root: current, index: ['index.html'] });
    assert.equal(found.kind, 'file');
  });

  it('finds nothing when the root itself is missing', async () => {
    assert.equal((await resolvePath('/app.js', { root: join(dir, 'no-such-root'), index: [] })).kind, 'missing');
  });
});
