import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { looksHashed } from '../../../src/handlers/static/hashed-name.ts';

describe('looksHashed', () => {
  it('recognises the hashed names of common build tools', () => {
    for (const name of [
      'app.3f9a2c1b4d5e.css', // Django ManifestStaticFilesStorage
      'app.3f9a2c1b.js', // Parcel, webpack [contenthash:8]
      'main.1a2b3c4d5e6f7a8b9c0d.js',
      'webpack-8fa1640cc84ba8fe.js', // Next.js
      'index-B7x9Jz3a.js', // Vite / Rollup
      'app-5QO2HVKM.js', // esbuild
      'app.3f9a2c1b.js.map',
      'app.3f9a2c1b4d5e.css.gz',
    ]) {
      assert.equal(looksHashed(name), true, name);
    }
  });

  it('leaves ordinary names mutable', () => {
    for (const name of ['app.css', 'index.html', 'favicon.ico', 'jquery.min.js', 'OpenSans-SemiBold.ttf', 'bootstrap-datepicker.js', 'select2.full.js', 'SelectFilter2.js', 'robots.txt', 'README', 'font-awesome.css', 'abcdef12']) {
      assert.equal(looksHashed(name), false, name);
    }
  });
});
