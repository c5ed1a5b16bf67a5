import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodingPreference, parseAcceptEncoding } from '../../../src/handlers/static/accept-encoding.ts';

describe('parseAcceptEncoding', () => {
  it('prefers brotli at equal weight', () => {
    assert.equal(parseAcceptEncoding('gzip, deflate, br, zstd'), 'br,gzip');
    assert.equal(parseAcceptEncoding('br;q=1.0, gzip;q=1.0'), 'br,gzip');
  });

  it('respects q-values', () => {
    assert.equal(parseAcceptEncoding('gzip;q=1, br;q=0.5'), 'gzip,br');
    assert.equal(parseAcceptEncoding('br;q=0, gzip'), 'gzip');
    assert.equal(parseAcceptEncoding('br, gzip;q=0'), 'br');
    assert.equal(parseAcceptEncoding('identity'), 'none');
    assert.equal(parseAcceptEncoding('gzip;q=0, br;q=0'), 'none');
  });

  it('reads * and x-gzip', () => {
    assert.equal(parseAcceptEncoding('*'), 'br,gzip');
    assert.equal(parseAcceptEncoding('*;q=0.5, gzip'), 'gzip,br');
    assert.equal(parseAcceptEncoding('br, *;q=0'), 'br');
    assert.equal(parseAcceptEncoding('x-gzip'), 'gzip');
  });

  it('ignores elements with a malformed weight', () => {
    assert.equal(parseAcceptEncoding('br;q=2, gzip'), 'gzip');
    assert.equal(parseAcceptEncoding('br;q=abc'), 'none');
    assert.equal(parseAcceptEncoding(';;;,,,'), 'none');
  });

  it('memoizes by header text', () => {
    assert.equal(encodingPreference(undefined), 'none');
    assert.equal(encodingPreference('gzip, br'), 'br,gzip');
    assert.equal(encodingPreference('gzip, br'), 'br,gzip');
    for (let i = 0; i < 1000; i++) encodingPreference(`gzip;q=0.${i % 1000}`);
    assert.equal(encodingPreference('gzip'), 'gzip');
  });
});
