/**
 * The `ddns` section: defaults, every provider's worked config from
 * docs/ddns.md, and mistakes reported with the file, the key path and what to
 * write instead — a credential written into the config is refused without
 * being echoed.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/config/issues.ts';
import { normalizeConfig } from '../../src/config/normalize.ts';
import { credentialReader, MissingCredentialError } from '../../src/ddns/credentials.ts';
import { DEFAULT_ECHO_SERVICES } from '../../src/ddns/normalize.ts';
import { tempDir } from '../support/kirin.ts';

const FILE = '/srv/app/kirin.config.ts';
const sites = { 'example.com, www.example.com': { '/': { app: './app.ts' } }, 'localhost': { '/': { app: './app.ts' } }, '*.example.com': { '/': { app: './app.ts' } } };

function plan(ddns: unknown) {
  return normalizeConfig({ raw: { sites, ddns }, file: FILE, cwd: '/srv/app', env: {} }).ddns;
}

function problems(ddns: unknown): string[] {
  try {
    plan(ddns);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    assert.match(error.message, /\/srv\/app\/kirin\.config\.ts: ddns/);
    return error.problems.map((p) => `${p.path}: ${p.message}`);
  }
  assert.fail('the config was accepted');
}

const tsig = { name: 'kirin-ddns.', secret: '$DDNS_TSIG_SECRET' };

describe('ddns config', () => {
  it('defaults: the sites\' public names, both families, 5 minutes, the public echo services', () => {
    const p = plan({ provider: 'rfc2136', server: 'ns1.example.com', zone: 'example.com', key: tsig })!;
    assert.deepEqual(p.names, ['example.com', 'www.example.com']);
    assert.equal(p.ipv4, true);
    assert.equal(p.ipv6, true);
    assert.equal(p.intervalMs, 300_000);
    assert.deepEqual(p.detect, DEFAULT_ECHO_SERVICES);
    assert.deepEqual(p.provider, { kind: 'rfc2136', host: 'ns1.example.com', port: 53, zone: 'example.com', key: { name: 'kirin-ddns', algorithm: 'hmac-sha256', secret: { variable: 'DDNS_TSIG_SECRET', at: 'ddns.key.secret' } }, ttl: 300 });
    assert.equal(normalizeConfig({ raw: { sites }, file: FILE, cwd: '/srv/app', env: {} }).ddns, null);
  });

  it('reads each provider as docs/ddns.md writes it', () => {
    assert.deepEqual(plan({ provider: 'cloudflare', token: '$CLOUDFLARE_API_TOKEN' })!.provider, { kind: 'cloudflare', server: 'https://api.cloudflare.com/client/v4', zone: null, token: { variable: 'CLOUDFLARE_API_TOKEN', at: 'ddns.token' }, ttl: 1 });
    assert.deepEqual(plan({ provider: 'dyndns2', server: 'https://dynupdate.no-ip.com', username: 'me@example.com', password: '$DDNS_PASSWORD' })!.provider, {
      kind: 'dyndns2',
      server: 'https://dynupdate.no-ip.com',
      username: 'me@example.com',
      password: { variable: 'DDNS_PASSWORD', at: 'ddns.password' },
    });
    const duck = normalizeConfig({ raw: { sites: { 'myhome.duckdns.org': { '/': { app: './app.ts' } } }, ddns: { provider: 'duckdns', token: '$DUCKDNS_TOKEN', interval: '10m' } }, file: FILE, cwd: '/srv/app', env: {} }).ddns!;
    assert.deepEqual(duck.names, ['myhome.duckdns.org']);
    assert.equal(duck.intervalMs, 600_000);
    assert.equal(plan({ provider: 'rfc2136', server: '[2001:db8::53]:5353', zone: 'example.com', key: tsig })!.provider.kind, 'rfc2136');
  });

  it('refuses a credential written into the config, naming the key and the form to use, without echoing it', () => {
    const [problem, ...rest] = problems({ provider: 'cloudflare', token: 'Zm9vYmFyLXNlY3JldC10b2tlbg' });
    assert.equal(rest.length, 0);
    assert.match(problem!, /^ddns\.token: must name an environment variable, like '\$DDNS_CLOUDFLARE_TOKEN', with the value in an env file listed in envFiles/);
    assert.ok(!problem!.includes('Zm9vYmFy'));
    assert.deepEqual(problems({ provider: 'rfc2136', server: 'ns1.example.com', zone: 'example.com', key: { name: 'k', secret: 'c2VjcmV0' } }).map((p) => p.split(':')[0]), ['ddns.key.secret']);
  });

  it('reports each mistake at its path', () => {
    assert.deepEqual(problems({ provider: 'rfc2136', key: tsig }), ["ddns.server: expected the primary server as 'HOST:PORT', e.g. 'ns1.example.com:53' or '127.0.0.1:53', got nothing", "ddns.zone: is required: the zone the names are in, e.g. 'example.com'"]);
    assert.match(problems({ provider: 'noip' })[0]!, /^ddns\.provider: expected one of 'rfc2136', 'cloudflare', 'dyndns2', 'duckdns', got "noip"/);
    assert.match(problems({ provider: 'duckdns', token: '$T', zone: 'x' })[0]!, /^ddns\.zone: unknown option; known: provider, names, ipv4, ipv6, interval, detect, server, token/);
    assert.match(problems({ provider: 'dyndns2', username: 'u', password: '$P' })[0]!, /^ddns\.server: is required for dyndns2/);
    assert.match(problems({ provider: 'duckdns', token: '$T', interval: '10s' })[0]!, /^ddns\.interval: is 10 s; the shortest is 1 minute/);
    assert.match(problems({ provider: 'duckdns', token: '$T' })[0]!, /^ddns\.names: "example\.com" is not a DuckDNS name/);
    assert.match(problems({ provider: 'rfc2136', server: 'ns1', zone: 'other.org', key: tsig })[0]!, /^ddns\.names: "example\.com" is not in the zone other\.org/);
    assert.match(problems({ provider: 'duckdns', token: '$T', names: ['a.duckdns.org'], detect: { ipv4: ['http://ip.example.net', 'https://x'] } })[0]!, /^ddns\.detect\.ipv4\[0\]: "http:\/\/ip\.example\.net" must be an https:\/\/ URL/);
    assert.match(problems({ provider: 'duckdns', token: '$T', names: ['a.duckdns.org'], detect: { ipv4: ['https://api.ipify.org'] } })[0]!, /^ddns\.detect\.ipv4: lists one echo service; list at least two/);
    assert.match(problems({ provider: 'duckdns', token: '$T', names: ['*.duckdns.org'] })[0]!, /^ddns\.names\[0\]: "\*\.duckdns\.org" is not a host name/);
    assert.match(problems({ provider: 'dyndns2', server: 'http://members.dyndns.org', username: 'u', password: '$P' })[0]!, /^ddns\.server: .* must be an https:\/\/ URL: the request carries your credentials/);
    assert.match(problems({ provider: 'duckdns', token: '$T', names: ['a.duckdns.org'], ipv4: false, ipv6: false })[0]!, /^ddns: ipv4 and ipv6 are both false/);
  });

  it('reads credentials from the environment first, then the env files; a missing one names the variable and the files', () => {
    const dir = tempDir('kirin-ddns-env-');
    const envFile = join(dir, '.env');
    writeFileSync(envFile, 'DDNS_PASSWORD=from-file\nOTHER=x\n');
    const read = credentialReader([envFile], { OTHER: 'from-env' });
    assert.equal(read({ variable: 'DDNS_PASSWORD', at: 'ddns.password' }), 'from-file');
    assert.equal(read({ variable: 'OTHER', at: 'ddns.password' }), 'from-env');
    assert.throws(() => read({ variable: 'DUCKDNS_TOKEN', at: 'ddns.token' }), (error: Error) => {
      assert.ok(error instanceof MissingCredentialError);
      assert.equal(error.message, `ddns.token: the variable DUCKDNS_TOKEN is not set in the environment or the env files (${envFile}); add DUCKDNS_TOKEN=… to an env file listed in envFiles`);
      return true;
    });
  });
});
