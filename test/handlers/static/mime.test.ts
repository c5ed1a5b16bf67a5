import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { contentTypeFor, DEFAULT_CONTENT_TYPE } from '../../../src/handlers/static/mime.ts';

describe('contentTypeFor', () => {
  it('gives text types a UTF-8 charset', () => {
    assert.equal(contentTypeFor('index.html'), 'text/html; charset=utf-8');
    assert.equal(contentTypeFor('app.3f9a2c1b.JS'), 'text/javascript; charset=utf-8');
    assert.equal(contentTypeFor('data.json'), 'application/json; charset=utf-8');
    assert.equal(contentTypeFor('logo.svg'), 'image/svg+xml; charset=utf-8');
  });

  it('gives binary types none', () => {
    assert.equal(contentTypeFor('photo.jpeg'), 'image/jpeg');
    assert.equal(contentTypeFor('font.woff2'), 'font/woff2');
    assert.equal(contentTypeFor('module.wasm'), 'application/wasm');
  });

  it('falls back to application/octet-stream', () => {
    for (const name of ['README', 'archive.unknownext', 'trailing.', 'constructor', 'x.constructor', 'x.__proto__']) {
      assert.equal(contentTypeFor(name), DEFAULT_CONTENT_TYPE, name);
    }
  });
});
