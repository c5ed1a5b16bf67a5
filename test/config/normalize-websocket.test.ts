import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/config/issues.ts';
import { normalizeConfig } from '../../src/config/normalize.ts';
import { DEFAULT_WEBSOCKET } from '../../src/config/normalize-websocket.ts';

const FILE = '/srv/app/kirin.config.json';

function route(websocket: unknown) {
  const plan = normalizeConfig({ raw: { sites: { 'a.test': { '/': { app: './app.ts', websocket } } } }, file: FILE, cwd: '/srv/app', env: {} });
  return plan.sites[0]!.routes[0]!.websocket;
}

function problem(websocket: unknown): string {
  try {
    route(websocket);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.message;
  }
  throw new Error('expected a config error');
}

describe('websocket route limits', () => {
  it('defaults are safe: 1 MiB messages, 60 s idle, 10 000 per worker, same origin only', () => {
    assert.deepEqual(route(undefined), DEFAULT_WEBSOCKET);
    assert.deepEqual(DEFAULT_WEBSOCKET, { maxMessageBytes: 1048576, idleTimeoutMs: 60_000, maxConnections: 10_000, origins: null });
  });

  it('reads sizes, durations, counts and origins', () => {
    assert.deepEqual(route({ maxMessage: '64kb', idleTimeout: '2m', maxConnections: 500, origins: ['https://Example.com/', 'http://localhost:3000'] }), {
      maxMessageBytes: 65536,
      idleTimeoutMs: 120_000,
      maxConnections: 500,
      origins: ['https://example.com', 'http://localhost:3000'],
    });
    assert.equal(route({ origins: '*' }).origins, '*');
    assert.equal(route({ idleTimeout: 0 }).idleTimeoutMs, 0);
  });

  it('errors name the file, the key and what is expected', () => {
    const text = problem({ maxMessage: 'huge', idleTimeout: '10ms', maxConnections: 0, origins: ['example.com', 'https://a.test/path'], maxFrames: 3 });
    assert.match(text, /kirin\.config\.json/);
    assert.match(text, /\["\/"\]\.websocket\.maxMessage.*a size in bytes/);
    assert.match(text, /websocket\.idleTimeout.*at least 1s/);
    assert.match(text, /websocket\.maxConnections.*a whole number >= 1/);
    assert.match(text, /websocket\.origins\[0\].*"example\.com" is not an origin/);
    assert.match(text, /websocket\.origins\[1\].*without a path/);
    assert.match(text, /maxFrames/);
  });

  it('only app routes take WebSocket limits', () => {
    assert.throws(
      () => normalizeConfig({ raw: { sites: { 'a.test': { '/': { static: './public', websocket: {} } } } }, file: FILE, cwd: '/srv/app', env: {} }),
      /websocket/,
    );
  });
});
