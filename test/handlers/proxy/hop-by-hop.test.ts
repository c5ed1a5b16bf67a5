import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { endToEndHeaders } from '../../../src/handlers/proxy/hop-by-hop.ts';
import { parseUpstreamAddress, serviceUpstreamUrl } from '../../../src/handlers/proxy/upstream-address.ts';

describe('endToEndHeaders', () => {
  it('drops the hop-by-hop headers of RFC 9110 and proxy credentials', () => {
    const out = endToEndHeaders({
      connection: 'keep-alive',
      'keep-alive': 'timeout=5',
      'proxy-connection': 'keep-alive',
      te: 'trailers',
      trailer: 'x-checksum',
      'transfer-encoding': 'chunked',
      upgrade: 'websocket',
      'proxy-authorization': 'Basic c2VjcmV0',
      'proxy-authenticate': 'Basic',
      expect: '100-continue',
      'content-type': 'text/plain',
      'set-cookie': ['a=1', 'b=2'],
    });
    assert.deepEqual(out, { 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'] });
  });

  it('drops every header the Connection header lists', () => {
    const out = endToEndHeaders({ connection: 'keep-alive, X-Secret, x-Internal', 'x-secret': '1', 'x-internal': '2', 'x-public': '3' });
    assert.deepEqual(out, { 'x-public': '3' });
  });

  it('reads a Connection header given twice', () => {
    const out = endToEndHeaders({ connection: ['close', 'x-a'], 'x-a': '1', 'x-b': '2' });
    assert.deepEqual(out, { 'x-b': '2' });
  });

  it("never lets Connection strip Kirin's X-Forwarded-* headers, Host or Content-Length", () => {
    const headers = {
      connection: 'X-Forwarded-For, x-forwarded-proto, X-Forwarded-Host, host, content-length',
      'x-forwarded-for': '203.0.113.9',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'shop.example.test',
      host: 'shop.example.test',
      'content-length': '3',
    };
    const out = endToEndHeaders(headers);
    assert.deepEqual(out, {
      'x-forwarded-for': '203.0.113.9',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'shop.example.test',
      host: 'shop.example.test',
      'content-length': '3',
    });
  });

  it('drops HTTP/2 pseudo-headers', () => {
    assert.deepEqual(endToEndHeaders({ ':method': 'GET', ':path': '/', ':authority': 'a.test', accept: '*/*' }), { accept: '*/*' });
  });
});

describe('parseUpstreamAddress', () => {
  it('reads TCP origins', () => {
    assert.deepEqual(parseUpstreamAddress('http://127.0.0.1:9001'), { url: 'http://127.0.0.1:9001', origin: 'http://127.0.0.1:9001', socketPath: null, host: '127.0.0.1:9001' });
    assert.equal(parseUpstreamAddress('http://[::1]:9001').host, '[::1]:9001');
  });

  it('reads unix sockets in the forms the config accepts', () => {
    for (const url of ['http://unix:/run/app.sock', 'unix:/run/app.sock', 'http://unix:/run/app.sock:']) {
      const address = parseUpstreamAddress(url);
      assert.equal(address.socketPath, '/run/app.sock', url);
      assert.equal(address.host, 'localhost');
    }
  });

  it('names a service upstream by its socket, else its port', () => {
    assert.equal(serviceUpstreamUrl({ socket: '/s/run/django.sock', port: 0 }), 'http://unix:/s/run/django.sock');
    assert.equal(serviceUpstreamUrl({ socket: null, port: 41000 }), 'http://127.0.0.1:41000');
    assert.equal(serviceUpstreamUrl({ socket: null, port: 0 }), null);
  });
});
