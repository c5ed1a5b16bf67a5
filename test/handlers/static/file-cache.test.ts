import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { FileCache, isAppRoute, type CacheOptions } from '../../../src/handlers/static/file-cache.ts';
import { IMMUTABLE_CACHE_CONTROL } from '../../../src/handlers/static/file-entry.ts';
import { tempDir, writeFiles } from '../../support/kirin.ts';

function cacheFor(root: string, overrides: Partial<CacheOptions> = {}): FileCache {
  return new FileCache({
    root,
    index: ['index.html'],
    spa: null,
    prefixLength: 0,
    entry: { cacheControl: 'public, max-age=0, must-revalidate', immutable: false, smallFileBytes: 64 * 1024 },
    revalidateMs: 60_000,
    maxPaths: 100,
    maxBytes: 1024 * 1024,
    logger: pino({ level: 'silent' }),
    ...overrides,
  });
}

function header(head: string[], name: string): string | undefined {
  const i = head.indexOf(name);
  return i === -1 ? undefined : head[i + 1];
}

describe('FileCache', () => {
  it('keeps an answer until it is due for revalidation, then sees changes on disk', async () => {
    const root = tempDir();
    writeFiles(root, { 'a.txt': 'one' });
    const cache = cacheFor(root, { revalidateMs: 0 });
    const first = await cache.lookup('/a.txt');
    assert.equal(first.entry?.identity.body?.toString(), 'one');
    assert.equal(cache.peek('/a.txt', performance.now() + 1), undefined);
    const same = await cache.lookup('/a.txt');
    assert.equal(same.entry, first.entry, 'an unchanged file keeps its entry (no re-read)');
    writeFileSync(join(root, 'a.txt'), 'two!');
    const changed = await cache.lookup('/a.txt');
    assert.equal(changed.entry?.identity.body?.toString(), 'two!');
    assert.notEqual(changed.entry?.identity.etag, first.entry?.identity.etag);
  });

  it('serves a fresh answer from peek without touching the disk', async () => {
    const root = tempDir();
    writeFiles(root, { 'a.txt': 'one' });
    const cache = cacheFor(root);
    const answer = await cache.lookup('/a.txt');
    assert.equal(cache.peek('/a.txt', performance.now()), answer);
  });

  it('shares one resolution between concurrent misses', async () => {
    const root = tempDir();
    writeFiles(root, { 'a.txt': 'one' });
    const cache = cacheFor(root);
    assert.equal(cache.lookup('/a.txt'), cache.lookup('/a.txt'));
  });

  it('cuts the route prefix off the path', async () => {
    const root = tempDir();
    writeFiles(root, { 'css/app.css': 'body{}' });
    const cache = cacheFor(root, { prefixLength: '/static'.length });
    assert.equal((await cache.lookup('/static/css/app.css')).kind, 'file');
    assert.equal((await cache.lookup('/static')).kind, 'missing');
  });

  it('answers app routes with the SPA file, but not missing assets or hidden files', async () => {
    const root = tempDir();
    writeFiles(root, { 'index.html': '<app>', '.env': 'x' });
    const cache = cacheFor(root, { spa: '/index.html' });
    const route = await cache.lookup('/users/42');
    assert.equal(route.kind, 'file');
    assert.equal(route.entry?.identity.body?.toString(), '<app>');
    const other = await cache.lookup('/settings');
    assert.equal(other.entry, route.entry, 'all app routes share the one SPA entry');
    assert.equal((await cache.lookup('/assets/missing.js')).kind, 'missing');
    assert.equal((await cache.lookup('/.env')).kind, 'hidden');
  });

  it('gives immutable caching only to hashed names', async () => {
    const root = tempDir();
    writeFiles(root, { 'app.3f9a2c1b.js': 'x', 'app.js': 'y' });
    const cache = cacheFor(root, { entry: { cacheControl: 'no-cache', immutable: true, smallFileBytes: 1024 } });
    assert.equal(header((await cache.lookup('/app.3f9a2c1b.js')).entry!.identity.ok, 'cache-control'), IMMUTABLE_CACHE_CONTROL);
    assert.equal(header((await cache.lookup('/app.js')).entry!.identity.ok, 'cache-control'), 'no-cache');
  });

  it('keeps small files in memory and streams large ones', async () => {
    const root = tempDir();
    writeFiles(root, { 'small.bin': Buffer.alloc(100), 'large.bin': Buffer.alloc(2000) });
    const cache = cacheFor(root, { entry: { cacheControl: '', immutable: false, smallFileBytes: 1000 } });
    const small = (await cache.lookup('/small.bin')).entry!.identity;
    const large = (await cache.lookup('/large.bin')).entry!.identity;
    assert.equal(small.body?.length, 100);
    assert.equal(large.body, null);
    assert.equal(header(large.ok, 'content-length'), '2000');
    assert.equal(header(large.ok, 'cache-control'), undefined);
  });

  it('stays within its memory budget', async () => {
    const root = tempDir();
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 20; i++) files[`f${i}.bin`] = Buffer.alloc(1000, i);
    writeFiles(root, files);
    const cache = cacheFor(root, { maxBytes: 5000, maxPaths: 8 });
    for (let i = 0; i < 20; i++) {
      const answer = await cache.lookup(`/f${i}.bin`);
      assert.equal(answer.entry?.identity.body?.[0], i);
    }
    assert.ok(cache.bytes <= 5000, `cached ${cache.bytes} bytes`);
  });
});

describe('isAppRoute', () => {
  it('treats a last segment with a dot as a file name', () => {
    assert.equal(isAppRoute('/users/42'), true);
    assert.equal(isAppRoute('/'), true);
    assert.equal(isAppRoute('/v1.2/intro'), true);
    assert.equal(isAppRoute('/assets/app.js'), false);
    assert.equal(isAppRoute('/favicon.ico'), false);
  });
});
