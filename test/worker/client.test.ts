import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { ClientResolver } from '../../src/worker/client.ts';
import { setForwardedHeaders } from '../../src/worker/http-fields.ts';

function req(remoteAddress: string | undefined, headers: Record<string, string> = {}): IncomingMessage {
  return { socket: { remoteAddress }, headers } as unknown as IncomingMessage;
}

describe('ClientResolver', () => {
  it('without trusted proxies, the peer is the client and forwarding headers are ignored', () => {
    const resolver = new ClientResolver([]);
    const r = req('203.0.113.9', { 'x-forwarded-for': '1.2.3.4', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.test' });
    assert.equal(resolver.client(r), '203.0.113.9');
    assert.equal(resolver.scheme(r, false), 'http');
    assert.equal(resolver.forwardedHost(r), undefined);
  });

  it('an untrusted peer cannot speak for others, even when trusted proxies are configured', () => {
    const resolver = new ClientResolver(['10.0.0.0/8']);
    assert.equal(resolver.client(req('203.0.113.9', { 'x-forwarded-for': '1.2.3.4' })), '203.0.113.9');
  });

  it('behind trusted hops, the rightmost untrusted address wins (prepended spoofs are ignored)', () => {
    const resolver = new ClientResolver(['10.0.0.0/8', '127.0.0.1']);
    const r = req('127.0.0.1', { 'x-forwarded-for': '6.6.6.6, 198.51.100.7, 10.1.2.3' });
    assert.equal(resolver.client(r), '198.51.100.7');
  });

  it('canonicalizes odd spellings of the peer and the hops', () => {
    const resolver = new ClientResolver(['127.0.0.1/32']);
    assert.equal(resolver.client(req('::ffff:127.0.0.1', { 'x-forwarded-for': '::ffff:198.51.100.7' })), '198.51.100.7');
    assert.equal(resolver.peer(req('::ffff:10.0.0.1')), '10.0.0.1');
  });

  it('reads RFC 7239 Forwarded when there is no X-Forwarded-For', () => {
    const resolver = new ClientResolver(['127.0.0.1']);
    const r = req('127.0.0.1', { forwarded: 'for=192.0.2.60;proto=https;host=shop.test, for="[2001:db8::1]:4711"' });
    assert.equal(resolver.client(r), '2001:db8::1');
    assert.equal(resolver.scheme(r, false), 'https');
    assert.equal(resolver.forwardedHost(r), 'shop.test');
  });

  it('a unix-socket peer counts as loopback', () => {
    assert.equal(new ClientResolver([]).client(req(undefined)), '127.0.0.1');
  });

  it("a worker peer's resolver believes the forwarding worker's conclusion; the public one does not", () => {
    const forwarded = { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'chat.example.com' };
    const peers = ClientResolver.forWorkerPeers();
    assert.equal(peers.trustsSomeone, true);
    // A peer socket is a unix socket: no remote address.
    assert.equal(peers.client(req(undefined, forwarded)), '203.0.113.9');
    assert.equal(peers.scheme(req(undefined, forwarded), false), 'https');
    assert.equal(peers.forwardedHost(req(undefined, forwarded)), 'chat.example.com');
    assert.equal(peers.client(req(undefined)), '127.0.0.1', 'without the header, the peer');
    const open = new ClientResolver([]);
    assert.equal(open.trustsSomeone, false);
    assert.equal(open.client(req(undefined, forwarded)), '127.0.0.1');
    assert.equal(open.scheme(req(undefined, forwarded), false), 'http');
  });

  it('setForwardedHeaders replaces the client copies and drops Forwarded', () => {
    const headers: Record<string, string | undefined> = { 'x-forwarded-for': 'spoof', forwarded: 'for=spoof', 'x-forwarded-host': 'evil' };
    setForwardedHeaders(headers, '203.0.113.9', 'https', 'example.com');
    assert.deepEqual(headers, { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'example.com' });
  });
});
