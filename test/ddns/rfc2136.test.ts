/**
 * RFC 2136 + TSIG against a real BIND 9: the A and AAAA records change (read
 * back with dig), an unchanged update changes nothing, and a wrong key or a
 * wrong secret is refused by the server and reported as a stop — with no
 * secret in what is reported.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Rfc2136Provider } from '../../src/ddns/providers/rfc2136.ts';
import type { Rfc2136Plan } from '../../src/ddns/plan.ts';
import { startBind, type Bind } from './support/bind.ts';

describe('rfc2136 provider against BIND 9', () => {
  let bind: Bind;
  before(async () => {
    bind = await startBind();
  });
  after(async () => {
    await bind?.stop();
  });

  function provider(overrides: { keyName?: string; secret?: string } = {}): Rfc2136Provider {
    const plan: Rfc2136Plan = {
      kind: 'rfc2136',
      host: '127.0.0.1',
      port: bind.port,
      zone: bind.zone,
      key: { name: overrides.keyName ?? bind.keyName, algorithm: 'hmac-sha256', secret: { variable: 'DDNS_TSIG_SECRET', at: 'ddns.key.secret' } },
      ttl: 120,
    };
    const secret = overrides.secret ?? bind.secret;
    return new Rfc2136Provider(plan, () => secret);
  }

  it('sets the A and AAAA records of every name, and replaces them on the next change', async () => {
    const names = [`www.${bind.zone}`, bind.zone];
    const first = await provider().update({ names, ipv4: '81.2.69.160', ipv6: '2a01:4f8:1:2::10' }, AbortSignal.timeout(20_000));
    assert.deepEqual(first.map((r) => [r.name, r.status, r.code]), names.map((n) => [n, 'updated', 'NOERROR']));
    for (const name of names) {
      assert.deepEqual(await bind.dig(name, 'A'), ['81.2.69.160']);
      assert.deepEqual(await bind.dig(name, 'AAAA'), ['2a01:4f8:1:2::10']);
    }
    const second = await provider().update({ names, ipv4: '81.2.69.161', ipv6: '2a01:4f8:1:2::11' }, AbortSignal.timeout(20_000));
    assert.ok(second.every((r) => r.status === 'updated'));
    // Replaced, not added: the old addresses are gone.
    assert.deepEqual(await bind.dig(`www.${bind.zone}`, 'A'), ['81.2.69.161']);
    assert.deepEqual(await bind.dig(`www.${bind.zone}`, 'AAAA'), ['2a01:4f8:1:2::11']);
  });

  it('updates AAAA alone when there is no IPv4 (ddclient #77, #424)', async () => {
    const name = `v6only.${bind.zone}`;
    const results = await provider().update({ names: [name], ipv4: null, ipv6: '2a01:4f8:1:2::99' }, AbortSignal.timeout(20_000));
    assert.equal(results[0]!.status, 'updated', results[0]!.message);
    assert.deepEqual(await bind.dig(name, 'AAAA'), ['2a01:4f8:1:2::99']);
    assert.deepEqual(await bind.dig(name, 'A'), []);
  });

  it('stops on a key the server does not know (BADKEY), and says so without the secret', async () => {
    const name = `badkey.${bind.zone}`;
    const [result] = await provider({ keyName: 'not-the-key' }).update({ names: [name], ipv4: '81.2.69.160', ipv6: null }, AbortSignal.timeout(20_000));
    assert.equal(result!.status, 'stop');
    assert.equal(result!.code, 'BADKEY');
    assert.match(result!.message, /does not know the key "not-the-key"/);
    assert.ok(!result!.message.includes(bind.secret));
    assert.deepEqual(await bind.dig(name, 'A'), []);
    assert.match(bind.log(), /not-the-key/, 'BIND logged the refused key');
  });

  it('stops on the right key name with a wrong secret (BADSIG)', async () => {
    const name = `badsig.${bind.zone}`;
    const wrong = Buffer.alloc(32, 7).toString('base64');
    const [result] = await provider({ secret: wrong }).update({ names: [name], ipv4: '81.2.69.160', ipv6: null }, AbortSignal.timeout(20_000));
    assert.equal(result!.status, 'stop');
    assert.equal(result!.code, 'BADSIG');
    assert.match(result!.message, /secret differs/);
    assert.ok(!result!.message.includes(wrong));
    assert.deepEqual(await bind.dig(name, 'A'), []);
  });

  it('stops with REFUSED for a name the key may not change', async () => {
    // The zone's policy grants A and AAAA only; outside the zone is NOTZONE.
    const [result] = await provider().update({ names: ['www.elsewhere.example'], ipv4: '81.2.69.160', ipv6: null }, AbortSignal.timeout(20_000));
    assert.equal(result!.status, 'stop');
    assert.match(result!.code, /^(NOTZONE|REFUSED|NOTAUTH)$/);
  });

  it('retries (does not stop) when the server does not answer', async () => {
    const silent: Rfc2136Plan = { kind: 'rfc2136', host: '127.0.0.1', port: 9, zone: bind.zone, key: { name: bind.keyName, algorithm: 'hmac-sha256', secret: { variable: 'X', at: 'ddns.key.secret' } }, ttl: 60 };
    const [result] = await new Rfc2136Provider(silent, () => bind.secret).update({ names: [`x.${bind.zone}`], ipv4: '81.2.69.160', ipv6: null }, AbortSignal.timeout(30_000));
    assert.equal(result!.status, 'retry');
    assert.match(result!.code, /^(timeout|network)$/);
  });
});
