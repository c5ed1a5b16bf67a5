/**
 * dyndns2, DuckDNS and Cloudflare against local stand-ins that answer the way
 * each service documents: success words, refusals that must stop updating
 * (badauth, abuse, KO, a refused token), trouble that must wait (911: 30
 * minutes; 429: Retry-After), and no answer at all (the request's deadline).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { CloudflareProvider } from '../../src/ddns/providers/cloudflare.ts';
import { DuckdnsProvider } from '../../src/ddns/providers/duckdns.ts';
import { Dyndns2Provider, SERVICE_TROUBLE_WAIT_MS } from '../../src/ddns/providers/dyndns2.ts';
import { USER_AGENT } from '../../src/ddns/providers/http.ts';
import type { SecretRef } from '../../src/ddns/plan.ts';
import { startCloudflare, startDuckdns, startDyndns2 } from './support/stand-ins.ts';

const signal = () => AbortSignal.timeout(20_000);
/** A stand-in that answers gets this long: a loaded machine must not turn an answer into a timeout. */
const ANSWER_MS = 15_000;
/** A stand-in told to hang is given up on after this long. */
const HANG_MS = 500;
const ref = (variable: string): SecretRef => ({ variable, at: `ddns.${variable}` });
const secrets = (values: Record<string, string>) => (r: SecretRef) => values[r.variable]!;

describe('dyndns2', async () => {
  const service = await startDyndns2({ username: 'kirin@example.com', password: 'pw-0123456789' });
  after(() => service.close());
  const provider = (password = 'pw-0123456789', timeoutMs = ANSWER_MS) =>
    new Dyndns2Provider({ kind: 'dyndns2', server: service.url, username: 'kirin@example.com', password: ref('DDNS_PASSWORD') }, secrets({ DDNS_PASSWORD: password }), { timeoutMs });

  it('sends every name with both addresses, basic auth and a User-Agent; good then nochg are both success', async () => {
    const request = { names: ['a.example.com', 'b.example.com'], ipv4: '81.2.69.160', ipv6: '2a01:4f8:1:2::10' };
    const first = await provider().update(request, signal());
    assert.deepEqual(first.map((r) => [r.name, r.status, r.code]), [['a.example.com', 'updated', 'good'], ['b.example.com', 'updated', 'good']]);
    const seen = service.requests.at(-1)!;
    assert.equal(seen.path, '/nic/update');
    assert.equal(seen.query.get('hostname'), 'a.example.com,b.example.com');
    assert.equal(seen.query.get('myip'), '81.2.69.160,2a01:4f8:1:2::10');
    assert.equal(seen.headers['user-agent'], USER_AGENT);
    assert.match(USER_AGENT, /^Kirin kirin-ddns\/\w+-\d+\.\d+\.\d+/);
    const second = await provider().update(request, signal());
    assert.deepEqual(second.map((r) => r.code), ['nochg', 'nochg']);
    assert.ok(second.every((r) => r.status === 'updated'));
  });

  it('stops on badauth (never retried), without the password in the message', async () => {
    const [result] = await provider('wrong-password').update({ names: ['a.example.com'], ipv4: '81.2.69.161', ipv6: null }, signal());
    assert.equal(result!.status, 'stop');
    assert.equal(result!.code, 'badauth');
    assert.ok(!result!.message.includes('wrong-password'));
  });

  for (const word of ['abuse', 'nohost', 'notfqdn', 'badagent', '!donator']) {
    it(`stops on "${word}"`, async () => {
      service.override.push({ body: word });
      const [result] = await provider().update({ names: ['a.example.com'], ipv4: '81.2.69.162', ipv6: null }, signal());
      assert.equal(result!.status, 'stop');
      assert.equal(result!.code, word);
    });
  }

  it('waits at least 30 minutes after 911', async () => {
    service.override.push({ body: '911' });
    const [result] = await provider().update({ names: ['a.example.com'], ipv4: '81.2.69.163', ipv6: null }, signal());
    assert.equal(result!.status, 'retry');
    assert.equal(result!.code, '911');
    assert.ok(result!.retryAfterMs! >= 30 * 60_000);
    assert.equal(SERVICE_TROUBLE_WAIT_MS, 30 * 60_000);
  });

  it('retries later when the service does not answer in time', async () => {
    service.override.push('hang');
    const [result] = await provider(undefined, HANG_MS).update({ names: ['a.example.com'], ipv4: '81.2.69.164', ipv6: null }, signal());
    assert.equal(result!.status, 'retry');
    assert.equal(result!.code, 'timeout');
  });

  it('updates AAAA alone: myip carries only the IPv6 address', async () => {
    const [result] = await provider().update({ names: ['v6.example.com'], ipv4: null, ipv6: '2a01:4f8:1:2::20' }, signal());
    assert.equal(result!.status, 'updated');
    assert.equal(service.requests.at(-1)!.query.get('myip'), '2a01:4f8:1:2::20');
  });
});

describe('duckdns', async () => {
  const token = 'a7c4d0ad-114e-40ef-ba1d-d217904a50f2';
  const service = await startDuckdns(token, ['myhome']);
  after(() => service.close());
  const provider = (t = token, timeoutMs = ANSWER_MS) => new DuckdnsProvider({ kind: 'duckdns', server: service.url, token: ref('DUCKDNS_TOKEN') }, secrets({ DUCKDNS_TOKEN: t }), { timeoutMs });

  it('sends the domain label, token and both addresses; OK is success', async () => {
    const [result] = await provider().update({ names: ['myhome.duckdns.org'], ipv4: '81.2.69.160', ipv6: '2a01:4f8:1:2::10' }, signal());
    assert.equal(result!.status, 'updated');
    assert.equal(result!.code, 'OK');
    const q = service.requests.at(-1)!.query;
    assert.deepEqual([q.get('domains'), q.get('ip'), q.get('ipv6'), q.get('verbose')], ['myhome', '81.2.69.160', '2a01:4f8:1:2::10', 'true']);
    assert.equal(service.records.get('myhome'), '81.2.69.160|2a01:4f8:1:2::10');
  });

  it('stops on KO (wrong token), without the token in the message', async () => {
    const [result] = await provider('00000000-0000-0000-0000-000000000000').update({ names: ['myhome.duckdns.org'], ipv4: '81.2.69.161', ipv6: null }, signal());
    assert.equal(result!.status, 'stop');
    assert.equal(result!.code, 'KO');
    assert.ok(!result!.message.includes(token));
  });

  it('retries later when DuckDNS does not answer in time', async () => {
    service.override.push('hang');
    const [result] = await provider(undefined, HANG_MS).update({ names: ['myhome.duckdns.org'], ipv4: '81.2.69.162', ipv6: null }, signal());
    assert.equal(result!.status, 'retry');
    assert.equal(result!.code, 'timeout');
  });
});

describe('cloudflare', async () => {
  const token = 'cf-token-0123456789abcdef0123456789abcdef';
  const service = await startCloudflare(token, { 'example.com': 'zone123' });
  after(() => service.close());
  const provider = (t = token) =>
    new CloudflareProvider({ kind: 'cloudflare', server: `${service.url}/client/v4`, zone: null, token: ref('CF'), ttl: 1 }, secrets({ CF: t }), { timeoutMs: ANSWER_MS });

  it('finds the zone from the name, creates missing records, then PATCHes only the content on a change', async () => {
    const p = provider();
    const first = await p.update({ names: ['home.example.com'], ipv4: '81.2.69.160', ipv6: '2a01:4f8:1:2::10' }, signal());
    assert.equal(first[0]!.status, 'updated', first[0]!.message);
    assert.deepEqual(service.records.map((r) => [r.type, r.name, r.content, r.proxied]), [['A', 'home.example.com', '81.2.69.160', false], ['AAAA', 'home.example.com', '2a01:4f8:1:2::10', false]]);
    assert.ok(service.requests.every((r) => r.headers.authorization === `Bearer ${token}`));
    service.records[0]!.proxied = true; // the user turned the proxy on in the dashboard: a PATCH must keep it
    const before = service.requests.length;
    const second = await p.update({ names: ['home.example.com'], ipv4: '81.2.69.161', ipv6: '2a01:4f8:1:2::10' }, signal());
    assert.equal(second[0]!.status, 'updated');
    const calls = service.requests.slice(before).map((r) => `${r.method} ${r.path}`);
    // The zone id is remembered: no second zone lookup; AAAA unchanged: no PATCH for it.
    assert.deepEqual(calls, ['GET /client/v4/zones/zone123/dns_records', 'PATCH /client/v4/zones/zone123/dns_records/rec1', 'GET /client/v4/zones/zone123/dns_records']);
    assert.deepEqual(JSON.parse(service.requests[before + 1]!.body), { content: '81.2.69.161' });
    assert.equal(service.records[0]!.content, '81.2.69.161');
    assert.equal(service.records[0]!.proxied, true);
  });

  it('on 429 waits as long as Retry-After says, and does not go on with the other names', async () => {
    service.override.push({ status: 429, headers: { 'retry-after': '120', 'content-type': 'application/json' }, body: JSON.stringify({ success: false, errors: [{ code: 971, message: 'Please wait and consider throttling your request speed' }] }) });
    const before = service.requests.length;
    const results = await provider().update({ names: ['home.example.com', 'www.example.com'], ipv4: '81.2.69.162', ipv6: null }, signal());
    assert.deepEqual(results.map((r) => [r.status, r.code, r.retryAfterMs]), [['retry', 'http-429', 120_000], ['retry', 'http-429', 120_000]]);
    assert.equal(service.requests.length - before, 1, 'one request, then it waited');
  });

  it('stops when the token is refused, without the token in the message', async () => {
    const [result] = await provider('not-the-token').update({ names: ['home.example.com'], ipv4: '81.2.69.163', ipv6: null }, signal());
    assert.equal(result!.status, 'stop');
    assert.equal(result!.code, 'http-403');
    assert.match(result!.message, /9109 Invalid access token/);
    assert.ok(!result!.message.includes('not-the-token'));
  });

  it('stops when no zone of the account holds the name', async () => {
    const [result] = await provider().update({ names: ['home.other.org'], ipv4: '81.2.69.164', ipv6: null }, signal());
    assert.equal(result!.status, 'stop');
    assert.equal(result!.code, 'no-zone');
  });

  it('retries later when the API does not answer in time', async () => {
    service.override.push('hang');
    const [result] = await new CloudflareProvider({ kind: 'cloudflare', server: `${service.url}/client/v4`, zone: 'example.com', token: ref('CF'), ttl: 1 }, secrets({ CF: token }), { timeoutMs: HANG_MS }).update({ names: ['home.example.com'], ipv4: '81.2.69.165', ipv6: null }, signal());
    assert.equal(result!.status, 'retry');
    assert.equal(result!.code, 'timeout');
  });
});
