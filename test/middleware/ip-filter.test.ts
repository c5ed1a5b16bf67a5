/**
 * allow/deny: the one IP module's canonicalization and CIDR matching (src/net/ip.ts),
 * and the middleware on top of it. The hostile spellings are the ones from
 * ANCHORS.md that slipped past other servers' allow-lists.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ipFilter } from '../../src/middleware/ip-filter.ts';
import { canonicalIp, IpMatcher, parseCidr } from '../../src/net/ip.ts';
import { fakeContext, runMiddleware } from './fake-context.ts';

describe('canonicalIp', () => {
  const loopbackSpellings = ['127.0.0.1', '::ffff:127.0.0.1', '::FFFF:127.0.0.1', '::ffff:7f00:1', '127.1', '0x7f.1', '0177.0.0.1', '017700000001', '2130706433', '0x7f000001', '127.0.1'];
  for (const spelling of loopbackSpellings) {
    it(`reads ${spelling} as 127.0.0.1`, () => assert.equal(canonicalIp(spelling), '127.0.0.1'));
  }

  it('writes IPv6 the RFC 5952 way', () => {
    assert.equal(canonicalIp('2001:0DB8:0000:0000:0000:0000:0000:0001'), '2001:db8::1');
    assert.equal(canonicalIp('0:0:0:0:0:0:0:1'), '::1');
    assert.equal(canonicalIp('::'), '::');
    assert.equal(canonicalIp('2001:db8:0:1:0:0:0:1'), '2001:db8:0:1::1', 'the longest zero run is compressed');
    assert.equal(canonicalIp('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1', 'of two equal runs, the first');
    assert.equal(canonicalIp('2001:db8:1:1:1:1:1:0'), '2001:db8:1:1:1:1:1:0', 'a single zero group stays');
  });

  it('drops brackets and zone ids', () => {
    assert.equal(canonicalIp('[::1]'), '::1');
    assert.equal(canonicalIp('fe80::1%eth0'), 'fe80::1');
  });

  it('keeps embedded IPv4 that is not IPv4-mapped as IPv6', () => {
    assert.equal(canonicalIp('::127.0.0.1'), '::7f00:1', 'IPv4-compatible (deprecated) is not 127.0.0.1');
    assert.equal(canonicalIp('64:ff9b::1.2.3.4'), '64:ff9b::102:304', 'NAT64 is not 1.2.3.4');
  });

  it('refuses what is not an address', () => {
    for (const bad of ['', 'abc', 'localhost', '256.0.0.1', '1.2.3.4.5', '08.0.0.1', '0x', '1..2', '127.0.0.1.', '127.0.0.1 ', ' 127.0.0.1', '0x100.0.0.1', '4294967296', '-1', '+1.2.3.4', '1e3', '１２７.0.0.1', '::ffff:127.1', '127.0.0.1/8', '1:2:3:4:5:6:7:8:9', ':::1', '2001:db8::1::2', 'g::1']) {
      assert.equal(canonicalIp(bad), null, JSON.stringify(bad));
    }
  });
});

describe('parseCidr', () => {
  it('normalizes the network part', () => {
    assert.equal(parseCidr('10.1.2.3/8')?.text, '10.0.0.0/8');
    assert.equal(parseCidr('2001:db8:ffff::1/32')?.text, '2001:db8::/32');
    assert.equal(parseCidr('0x7f.1/8')?.text, '127.0.0.0/8');
    assert.equal(parseCidr('192.168.1.9')?.text, '192.168.1.9/32', 'a single address is a /32');
    assert.equal(parseCidr('::1')?.text, '::1/128');
  });

  it('reads an IPv4-mapped range in IPv4 terms', () => {
    assert.equal(parseCidr('::ffff:10.0.0.0/104')?.text, '10.0.0.0/8');
    assert.equal(parseCidr('::ffff:10.0.0.0/95'), null, 'a prefix shorter than the mapping reaches outside IPv4');
  });

  it('refuses prefixes out of range or malformed', () => {
    for (const bad of ['1.2.3.4/33', '::/129', '1.2.3.4/-1', '10.0.0.0/', '10.0.0.0/8/8', '10.0.0.0/x', '10.0.0.0/1000', 'nothing/8']) {
      assert.equal(parseCidr(bad), null, bad);
    }
  });
});

describe('IpMatcher', () => {
  const matches = (list: string[], address: string) => IpMatcher.compile(list).matcher.matches(address);

  it('matches an allow-list entry however the client address is spelled', () => {
    for (const client of ['127.0.0.1', '::ffff:127.0.0.1', '127.1', '0x7f.1']) assert.ok(matches(['127.0.0.1'], client), client);
  });

  it('matches however the allow-list entry is spelled', () => {
    for (const entry of ['::ffff:127.0.0.1', '127.1', '0x7f.1', '2130706433', '::ffff:127.0.0.0/104']) assert.ok(matches([entry], '127.0.0.1'), entry);
  });

  it('respects prefix boundaries that are not whole bytes', () => {
    assert.ok(matches(['10.0.0.0/9'], '10.127.255.255'));
    assert.ok(!matches(['10.0.0.0/9'], '10.128.0.0'));
    assert.ok(matches(['2001:db8::/33'], '2001:db8:7fff::1'));
    assert.ok(!matches(['2001:db8::/33'], '2001:db8:8000::1'));
    assert.ok(matches(['192.168.1.0/24'], '::ffff:192.168.1.7'));
    assert.ok(!matches(['192.168.1.0/24'], '192.168.2.1'));
  });

  it('keeps the families apart', () => {
    assert.ok(matches(['0.0.0.0/0'], '203.0.113.9'));
    assert.ok(!matches(['0.0.0.0/0'], '2001:db8::1'));
    assert.ok(matches(['::/0'], '2001:db8::1'));
    assert.ok(!matches(['::/0'], '::ffff:203.0.113.9'), 'an IPv4-mapped client is an IPv4 client');
    assert.ok(!matches(['::1'], '127.0.0.1'), 'the two loopbacks are different addresses');
  });

  it('never matches what is not an address', () => {
    assert.ok(!matches(['0.0.0.0/0', '::/0'], ''));
    assert.ok(!matches(['0.0.0.0/0', '::/0'], 'unknown'));
  });

  it('reports entries that are not addresses', () => {
    assert.deepEqual(IpMatcher.compile(['10.0.0.0/8', 'localhost', '1.2.3.4/40']).invalid, ['localhost', '1.2.3.4/40']);
  });
});

describe('ipFilter middleware', () => {
  it('lets allowed clients through and refuses others with 403', async () => {
    const filter = ipFilter(['127.0.0.1', '10.0.0.0/8'], null);
    assert.equal((await runMiddleware(filter, fakeContext({ clientIp: '10.20.30.40' }))).passed, true);
    const refused = await runMiddleware(filter, fakeContext({ clientIp: '192.168.0.1' }));
    assert.equal(refused.passed, false);
    assert.equal(refused.status, 403);
  });

  it('lets deny win over allow', async () => {
    const filter = ipFilter(['10.0.0.0/8'], ['10.0.0.66']);
    assert.equal((await runMiddleware(filter, fakeContext({ clientIp: '10.0.0.65' }))).passed, true);
    assert.equal((await runMiddleware(filter, fakeContext({ clientIp: '10.0.0.66' }))).status, 403);
  });

  it('denies a range given as a deny-list alone, everyone else passes', async () => {
    const filter = ipFilter(null, ['0x7f.1/8']);
    assert.equal((await runMiddleware(filter, fakeContext({ clientIp: '127.0.0.9' }))).status, 403);
    assert.equal((await runMiddleware(filter, fakeContext({ clientIp: '::1' }))).passed, true);
  });
});
