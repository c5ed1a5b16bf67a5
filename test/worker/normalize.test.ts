import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodePath, normalizeTarget } from '../../src/worker/normalize.ts';

function ok(target: string) {
  const result = normalizeTarget(target);
  assert.equal(typeof result, 'object', `${target} was refused: ${String(result)}`);
  return result as Exclude<typeof result, string>;
}

function refused(target: string, reason: RegExp) {
  const result = normalizeTarget(target);
  assert.equal(typeof result, 'string', `${target} was accepted as ${JSON.stringify(result)}`);
  assert.match(result as string, reason);
}

describe('normalizeTarget', () => {
  it('passes clean paths through untouched (the fast path)', () => {
    assert.deepEqual(ok('/'), { path: '/', encodedPath: '/', query: '' });
    assert.deepEqual(ok('/a/b.css?x=1&y=%20'), { path: '/a/b.css', encodedPath: '/a/b.css', query: '?x=1&y=%20' });
    assert.deepEqual(ok("/a-b_c~d!$&'()*+,;=:@"), { path: "/a-b_c~d!$&'()*+,;=:@", encodedPath: "/a-b_c~d!$&'()*+,;=:@", query: '' });
  });

  it('decodes percent-escapes exactly once', () => {
    assert.equal(ok('/caf%C3%A9').path, '/café');
    assert.equal(ok('/caf%C3%A9').encodedPath, '/caf%C3%A9');
    assert.equal(ok('/a%20b').path, '/a b');
    // %252e decodes to the three characters "%2e", which are not decoded again.
    assert.equal(ok('/%252e%252e%252fetc').path, '/%2e%2e%2fetc');
    assert.equal(ok('/%252e%252e%252fetc').encodedPath, '/%252e%252e%252fetc');
  });

  it('resolves dot segments and merges slashes, so guards see one spelling', () => {
    for (const spelling of ['/admin/x', '//admin/x', '/admin//x', '/admin/./x', '/a/../admin/x', '/%61dmin/x', '/admin/%2e/x', '/./admin/x']) {
      assert.equal(ok(spelling).path, '/admin/x', spelling);
    }
    assert.equal(ok('/a/b/..').path, '/a/');
    assert.equal(ok('/a/.').path, '/a/');
  });

  it('refuses dot segments that climb above the root, in every spelling', () => {
    for (const target of ['/..', '/../x', '/%2e%2e/x', '/%2e./x', '/.%2e/x', '/%2E%2E/etc/passwd', '/a/../../x']) {
      refused(target, /above the root/);
    }
  });

  it('refuses encoded slashes and backslashes, raw backslashes, NUL and control characters', () => {
    refused('/admin%2Fx', /encoded slash/);
    refused('/admin%2fx', /encoded slash/);
    refused('/admin%5Cx', /encoded backslash/);
    refused('/C:%5cwindows', /encoded backslash/);
    refused('/..\\x', /backslash/);
    refused('/\\\\host\\share', /backslash/);
    refused('/a%00b', /control character/);
    refused('/a%0d%0ab', /control character/);
  });

  it('refuses invalid escapes, invalid UTF-8, fragments and non-origin forms', () => {
    refused('/a%zz', /invalid percent-encoding/);
    refused('/a%', /invalid percent-encoding/);
    refused('/a%c3', /invalid UTF-8/);
    refused('/a?b#c', /fragment/);
    refused('http://169.254.169.254/', /must start with "\/"/);
    refused('*', /asterisk-form/);
    refused('', /must start with "\/"/);
  });

  it('encodePath escapes what is not a path character', () => {
    assert.equal(encodePath('/a b/ü?#%'), '/a%20b/%C3%BC%3F%23%25');
    assert.equal(encodePath('/plain/path'), '/plain/path');
  });
});
