import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseHost, SiteMap } from '../../src/worker/host.ts';

describe('parseHost', () => {
  it('accepts names, IPv4 and bracketed IPv6, with or without a port, and lower-cases', () => {
    assert.equal(parseHost('Example.COM'), 'example.com');
    assert.equal(parseHost('example.com:8080'), 'example.com');
    assert.equal(parseHost('example.com.'), 'example.com');
    assert.equal(parseHost('127.0.0.1:80'), '127.0.0.1');
    assert.equal(parseHost('[::1]:8080'), '[::1]');
    assert.equal(parseHost('a-b.c_d.test'), 'a-b.c_d.test');
  });

  it('refuses what is not a host', () => {
    for (const bad of ['', '..', '.', 'a..b', '.a', 'good.test:x@evil.test', 'good.test@evil.test', 'a b', 'a/b', 'a:', 'a:123456', 'a:8x', '-a.test', '[::1', '[zz]', 'évil.test', 'a\\b', `${'a'.repeat(64)}.test`]) {
      assert.equal(parseHost(bad), null, JSON.stringify(bad));
    }
  });
});

describe('SiteMap', () => {
  const map = new SiteMap<string>();
  map.add('example.com', 'exact');
  map.add('*.example.com', 'wildcard');
  map.add('*', 'any');

  it('prefers exact names, then one-label wildcards, then the catch-all', () => {
    assert.equal(map.match('example.com'), 'exact');
    assert.equal(map.match('www.example.com'), 'wildcard');
    assert.equal(map.match('a.b.example.com'), 'any');
    assert.equal(map.match('other.test'), 'any');
  });

  it('matches nothing for unknown hosts without a catch-all', () => {
    const strict = new SiteMap<string>();
    strict.add('example.com', 'site');
    assert.equal(strict.match('evil.test'), null);
    assert.equal(strict.only, null);
  });
});
