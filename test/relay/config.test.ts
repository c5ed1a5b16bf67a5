/**
 * The relay's config: the `relay` section of a VPS, and listen entries in
 * their long form `{ address, proxyProtocol }` at home. Errors name the key
 * path and what to write instead.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/config/issues.ts';
import { normalizeConfig } from '../../src/config/normalize.ts';

const FILE = '/srv/relay/kirin.config.json';

function plan(raw: unknown) {
  return normalizeConfig({ raw, file: FILE, cwd: '/srv/relay', env: { WEB_CONCURRENCY: '4' } });
}

function problems(raw: unknown): string[] {
  try {
    plan(raw);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    assert.match(error.message, /\/srv\/relay\/kirin\.config\.json: /, 'the message names the file');
    return error.problems.map((p) => `${p.path}: ${p.message}`);
  }
  assert.fail('the config was accepted');
}

describe('relay config', () => {
  it('defaults: ports 80 and 443 on every address, every name, one worker, and no sites needed', () => {
    const p = plan({ relay: { to: '10.77.0.2' } });
    assert.deepEqual(p.relay, { to: '10.77.0.2', names: null, maxConnectionsPerClient: 128, idleTimeoutMs: 300_000, connectTimeoutMs: 5_000 });
    assert.deepEqual(p.listen.http.map((a) => [a.host, a.port]), [['', 80], ['', 443]]);
    assert.deepEqual(p.listen.https, []);
    assert.deepEqual(p.sites, []);
    assert.equal(p.workers, 1, 'WEB_CONCURRENCY is for apps; a relay keeps its caps exact with one worker');
  });

  it('takes names, limits and timeouts', () => {
    const p = plan({ workers: 2, relay: { to: 'fd00::2', listen: ['203.0.113.5:443'], names: ['Example.org', '*.example.org, shop.test'], maxConnectionsPerClient: 10, idleTimeout: '1m', connectTimeout: '2s' } });
    assert.deepEqual(p.relay, { to: 'fd00::2', names: ['example.org', '*.example.org', 'shop.test'], maxConnectionsPerClient: 10, idleTimeoutMs: 60_000, connectTimeoutMs: 2_000 });
    assert.equal(p.workers, 2);
  });

  it('names what is wrong, and where', () => {
    assert.deepEqual(problems({ relay: {} }), ["relay.to: expected the home end's tunnel address, e.g. '10.77.0.2', got nothing"]);
    assert.match(problems({ relay: { to: 'home.example.org' } })[0]!, /^relay\.to: "home\.example\.org" is not an IP address/);
    assert.match(problems({ relay: { to: '10.77.0.2', listen: ['unix:/run/r.sock'] } })[0]!, /^relay\.listen\[0\]: a relay forwards TCP ports/);
    assert.match(problems({ relay: { to: '10.77.0.2', listen: [':0'] } })[0]!, /^relay\.listen\[0\]: each port is forwarded to the same port at home, so it must be fixed/);
    assert.match(problems({ relay: { to: '10.77.0.2', names: ['not a name'] } })[0]!, /^relay\.names\[0\]: "not a name" is not a host name/);
    assert.match(problems({ relay: { to: '10.77.0.2', conectTimeout: 5 } })[0]!, /^relay\.conectTimeout: unknown option \(did you mean "connectTimeout"\?\)/);
    assert.match(problems({ relay: { to: '10.77.0.2', connectTimeout: 0 } })[0]!, /^relay\.connectTimeout: must be above 0/);
  });

  it('refuses a relay that would forward to itself', () => {
    assert.match(problems({ relay: { to: '127.0.0.1' } })[0]!, /^relay\.to: 127\.0\.0\.1 is this machine's own address for :80/);
    assert.match(problems({ relay: { to: '10.77.0.2', listen: ['10.77.0.2:80'] } })[0]!, /forwarded back to the relay/);
  });

  it('is the whole job of the Kirin it runs in: sites and listen are refused beside it', () => {
    const found = problems({ relay: { to: '10.77.0.2' }, sites: { 'a.test': { '/': { app: './app.ts' } } }, listen: { http: [':8080'] } });
    assert.deepEqual(found.map((p) => p.split(':')[0]), ['sites', 'listen']);
    assert.match(found[0]!, /serve sites at home/);
  });
});

describe('listen entries with proxyProtocol', () => {
  const site = { '*': { '/': { app: './app.ts' } } };

  it('accepts { address, proxyProtocol } beside plain strings', () => {
    const p = plan({ trustedProxies: ['10.77.0.1'], listen: { http: ['127.0.0.1:8080', { address: '10.77.0.2:80', proxyProtocol: true }], https: [{ address: '10.77.0.2:443', proxyProtocol: true }] }, sites: site });
    assert.deepEqual(p.listen.http.map((a) => [a.spec, a.proxyProtocol ?? false]), [['127.0.0.1:8080', false], ['10.77.0.2:80', true]]);
    assert.deepEqual(p.listen.https.map((a) => [a.spec, a.proxyProtocol]), [['10.77.0.2:443', true]]);
  });

  it('needs trustedProxies: a PROXY header is believed only from them', () => {
    assert.deepEqual(problems({ listen: { http: [{ address: '10.77.0.2:80', proxyProtocol: true }] }, sites: site }), [
      "listen.http[0].proxyProtocol: PROXY headers are accepted only from trustedProxies, and there are none: add the relay's tunnel address, e.g. trustedProxies: ['10.77.0.1']",
    ]);
  });

  it('names the bad part of an entry', () => {
    const found = problems({ trustedProxies: ['10.77.0.1'], listen: { http: [{ adress: '10.77.0.2:80' }, { address: 'example.org:80' }, { address: ':80', proxyProtocol: 'yes' }, 42] }, sites: site });
    assert.deepEqual(found, [
      'listen.http[0].adress: unknown option (did you mean "address"?); known: address, proxyProtocol',
      "listen.http[0].address: expected an address like '10.77.0.2:443', got nothing",
      `listen.http[1].address: "example.org" is not an IP address; listen on an address, not a name (e.g. '127.0.0.1:8000' or ':8000' for all); got "example.org:80"`,
      'listen.http[2].proxyProtocol: expected true or false, got "yes"',
      "listen.http[3]: expected an address string or { address: '10.77.0.2:443', proxyProtocol: true }, got number 42",
    ]);
  });
});
