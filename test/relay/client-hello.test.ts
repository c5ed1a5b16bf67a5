/**
 * Reading the server name from a ClientHello without taking part in the
 * handshake: real ClientHellos from Node, OpenSSL and curl, split across
 * segments and records, and hostile ones.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { describe, it } from 'node:test';
import { readServerName, MAX_PEEK } from '../../src/relay/client-hello.ts';
import { readHttpHost } from '../../src/relay/http-host.ts';

/** The first bytes a real client sends, gathered until a whole ClientHello is there. */
async function captureClientHello(send: (port: number) => void): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => {
      let data = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        data = Buffer.concat([data, chunk]);
        if (readServerName(data).kind !== 'incomplete') {
          socket.destroy();
          server.close();
          resolve(data);
        }
      });
    });
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => send((server.address() as AddressInfo).port));
  });
}

function fromNode(servername: string | undefined): Promise<Buffer> {
  return captureClientHello((port) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false, ALPNProtocols: ['h2', 'http/1.1'] });
    socket.on('error', () => {});
  });
}

function fromCommand(command: string, args: (port: number) => string[]): Promise<Buffer> {
  return captureClientHello((port) => execFile(command, args(port), { timeout: 10_000 }, () => {}));
}

/** Re-frames a single-record ClientHello as two records, cut inside the handshake message (RFC 8446 §5.1 allows it). */
function splitIntoTwoRecords(hello: Buffer, at: number): Buffer {
  const body = hello.subarray(5, 5 + hello.readUInt16BE(3));
  const record = (part: Buffer) => Buffer.concat([Buffer.from([0x16, 0x03, 0x01, part.length >> 8, part.length & 0xff]), part]);
  return Buffer.concat([record(body.subarray(0, at)), record(body.subarray(at))]);
}

describe('server name from a ClientHello', () => {
  it('reads the name Node, OpenSSL and curl send, lower-cased', async () => {
    assert.deepEqual(readServerName(await fromNode('Shop.Example.ORG')), { kind: 'found', name: 'shop.example.org' });
    const openssl = await fromCommand('openssl', (port) => ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'blog.example.org']);
    assert.deepEqual(readServerName(openssl), { kind: 'found', name: 'blog.example.org' });
    const curl = await fromCommand('curl', (port) => ['-sk', '--max-time', '5', '--resolve', `www.example.org:${port}:127.0.0.1`, `https://www.example.org:${port}/`]);
    assert.deepEqual(readServerName(curl), { kind: 'found', name: 'www.example.org' });
  });

  it('finds no name when the client sends none (an address in the URL)', async () => {
    const curl = await fromCommand('curl', (port) => ['-sk', '--max-time', '5', `https://127.0.0.1:${port}/`]);
    assert.deepEqual(readServerName(curl), { kind: 'found', name: null });
  });

  it('waits for every byte: each prefix of a ClientHello is incomplete', async () => {
    const hello = await fromNode('shop.example.org');
    for (let n = 0; n < hello.length; n++) assert.deepEqual(readServerName(hello.subarray(0, n)), { kind: 'incomplete' }, `${n} of ${hello.length} bytes`);
  });

  it('joins a ClientHello that spans two TLS records', async () => {
    const hello = await fromNode('shop.example.org');
    for (const at of [2, 40, hello.length - 20]) assert.deepEqual(readServerName(splitIntoTwoRecords(hello, at)), { kind: 'found', name: 'shop.example.org' });
  });

  it('refuses what is not a ClientHello, or lies about its lengths', async () => {
    const hello = await fromNode('shop.example.org');
    const kind = (data: Buffer) => readServerName(data).kind;
    assert.equal(kind(Buffer.from('GET / HTTP/1.1\r\n')), 'invalid');
    assert.equal(kind(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x00])), 'invalid', 'an empty record');
    assert.equal(kind(Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff])), 'invalid', 'a record above 16 KiB');
    const serverHello = Buffer.from(hello);
    serverHello[5] = 0x02;
    assert.equal(kind(serverHello), 'invalid', 'a ServerHello');
    // Every length field inflated in turn: the parser must stop at the end of what is there, never read past it.
    for (let i = 9; i < hello.length - 1; i++) {
      const lying = Buffer.from(hello);
      lying[i] = 0xff;
      lying[i + 1] = 0xff;
      assert.doesNotThrow(() => readServerName(lying), `bytes ${i}, ${i + 1}`);
    }
    assert.equal(kind(Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x40, 0x00]), Buffer.alloc(MAX_PEEK)])), 'invalid', 'no ClientHello in a full peek');
  });

  it('refuses a server_name that is not a DNS name', () => {
    const hello = (name: string) => {
      const host = Buffer.from(name, 'latin1');
      const entry = Buffer.concat([Buffer.from([0, host.length >> 8, host.length & 0xff]), host]);
      const list = Buffer.concat([Buffer.from([entry.length >> 8, entry.length & 0xff]), entry]);
      const extension = Buffer.concat([Buffer.from([0, 0, list.length >> 8, list.length & 0xff]), list]);
      const body = Buffer.concat([Buffer.from([3, 3]), Buffer.alloc(32), Buffer.from([0, 0, 2, 0x13, 0x01, 1, 0, extension.length >> 8, extension.length & 0xff]), extension]);
      const message = Buffer.concat([Buffer.from([1, 0, body.length >> 8, body.length & 0xff]), body]);
      return Buffer.concat([Buffer.from([0x16, 3, 1, message.length >> 8, message.length & 0xff]), message]);
    };
    assert.deepEqual(readServerName(hello('ok.example.org')), { kind: 'found', name: 'ok.example.org' });
    for (const bad of ['evil.test:443', 'a b.test', '..', '[::1]', 'x\u0000.test', '']) assert.equal(readServerName(hello(bad)).kind, 'invalid', JSON.stringify(bad));
  });
});

describe('Host of a plain HTTP request head', () => {
  it('finds Host in any case, without the port, as soon as its line is complete', () => {
    assert.deepEqual(readHttpHost(Buffer.from('GET / HTTP/1.1\r\nUser-Agent: x\r\nHOST: Shop.Example.org:8080\r\n'), 16384), { kind: 'found', name: 'shop.example.org' });
    assert.deepEqual(readHttpHost(Buffer.from('GET / HTTP/1.1\r\nHost: shop.exam'), 16384), { kind: 'incomplete' });
  });

  it('refuses a head without Host, a malformed Host, and a head past the limit', () => {
    assert.equal(readHttpHost(Buffer.from('GET / HTTP/1.1\r\nAccept: */*\r\n\r\n'), 16384).kind, 'invalid');
    assert.equal(readHttpHost(Buffer.from('GET / HTTP/1.1\r\nHost: good.test:x@evil.test\r\n\r\n'), 16384).kind, 'invalid');
    assert.equal(readHttpHost(Buffer.from(`GET /${'a'.repeat(200)}`), 100).kind, 'invalid');
    assert.equal(readHttpHost(Buffer.from(`GET / HTTP/1.1\r\nX: ${'a'.repeat(200)}`), 100).kind, 'invalid');
  });
});
