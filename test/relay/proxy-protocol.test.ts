/**
 * PROXY protocol v2: the header the relay writes and home listeners read,
 * byte by byte, and against HAProxy as an independent sender (send-proxy-v2,
 * with TLVs) and receiver (accept-proxy).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeLocalHeader, encodeProxyHeader, MAX_HEADER_LENGTH, parseProxyHeader, SIGNATURE } from '../../src/relay/proxy-protocol.ts';
import { freePort, startKirin, tempDir, waitFor, writeFiles, type KirinProcess } from '../support/kirin.ts';

describe('PROXY protocol v2 header', () => {
  it('round-trips IPv4 and IPv6 clients, and reads an IPv4-mapped source as IPv4', () => {
    for (const [source, destination] of [
      [{ address: '203.0.113.9', port: 51234 }, { address: '10.77.0.1', port: 443 }],
      [{ address: '2001:db8::7', port: 1 }, { address: '2001:db8::1', port: 65535 }],
    ] as const) {
      const header = encodeProxyHeader(source, destination);
      assert.deepEqual(parseProxyHeader(Buffer.concat([header, Buffer.from('GET / HTTP/1.1\r\n')])), { kind: 'header', length: header.length, source });
    }
    const mixed = encodeProxyHeader({ address: '::ffff:198.51.100.4', port: 80 }, { address: '2001:db8::1', port: 80 });
    assert.equal(mixed[13], 0x21, 'AF_INET6 over STREAM');
    assert.deepEqual(parseProxyHeader(mixed), { kind: 'header', length: 52, source: { address: '198.51.100.4', port: 80 } });
  });

  it('writes exactly the bytes of the specification for TCP over IPv4', () => {
    const header = encodeProxyHeader({ address: '127.0.0.1', port: 12345 }, { address: '192.0.2.1', port: 54321 });
    assert.deepEqual([...header], [13, 10, 13, 10, 0, 13, 10, 81, 85, 73, 84, 10, 0x21, 0x11, 0, 12, 127, 0, 0, 1, 192, 0, 2, 1, 0x30, 0x39, 0xd4, 0x31]);
  });

  it('says "incomplete" for every prefix of a header, so a header split across packets is read whole', () => {
    const header = encodeProxyHeader({ address: '2001:db8::7', port: 9 }, { address: '2001:db8::1', port: 443 });
    for (let n = 0; n < header.length; n++) assert.deepEqual(parseProxyHeader(header.subarray(0, n)), { kind: 'incomplete' }, `${n} bytes`);
  });

  it('skips TLVs: the length field, not the address family, says where the client bytes start', () => {
    const base = encodeProxyHeader({ address: '192.0.2.5', port: 7 }, { address: '192.0.2.1', port: 80 });
    const tlv = Buffer.from([0x02, 0x00, 0x0b, ...Buffer.from('example.org')]); // PP2_TYPE_AUTHORITY
    const header = Buffer.concat([base, tlv]);
    header.writeUInt16BE(base.length - 16 + tlv.length, 14);
    const parsed = parseProxyHeader(Buffer.concat([header, Buffer.from('GET')]));
    assert.deepEqual(parsed, { kind: 'header', length: header.length, source: { address: '192.0.2.5', port: 7 } });
  });

  it('takes LOCAL (a health check from the proxy itself) as "no client": the socket address stands', () => {
    assert.deepEqual(parseProxyHeader(encodeLocalHeader()), { kind: 'header', length: 16, source: null });
  });

  it('refuses what is not a v2 header, with the reason', () => {
    const invalid = (data: Buffer) => {
      const parsed = parseProxyHeader(data);
      assert.equal(parsed.kind, 'invalid');
      return (parsed as { reason: string }).reason;
    };
    assert.match(invalid(Buffer.from('GET / HTTP/1.1\r\n')), /no PROXY protocol v2 header/);
    assert.match(invalid(Buffer.from([0x16, 3, 1, 0, 200])), /no PROXY protocol v2 header/);
    assert.match(invalid(Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n')), /v1 \(text\).*send-proxy-v2/);
    const v1 = Buffer.concat([SIGNATURE, Buffer.from([0x11, 0x11, 0, 12]), Buffer.alloc(12)]);
    assert.match(invalid(v1), /version 1, not 2/);
    const command = Buffer.concat([SIGNATURE, Buffer.from([0x25, 0x11, 0, 12]), Buffer.alloc(12)]);
    assert.match(invalid(command), /unknown PROXY command 5/);
    const huge = Buffer.concat([SIGNATURE, Buffer.from([0x21, 0x11, 0xff, 0xff])]);
    assert.match(invalid(huge), new RegExp(`at most ${MAX_HEADER_LENGTH}`));
    const short = Buffer.concat([SIGNATURE, Buffer.from([0x21, 0x21, 0, 12]), Buffer.alloc(12)]);
    assert.match(invalid(short), /too short for its addresses/);
  });
});

describe('PROXY protocol v2 against HAProxy', () => {
  let dir: string;
  const haproxies: ChildProcess[] = [];

  before(() => {
    dir = tempDir('kirin-proxy-protocol-');
  });
  after(() => {
    for (const child of haproxies) child.kill('SIGKILL');
  });

  async function startHaproxy(name: string, config: string, port: number): Promise<void> {
    const file = join(dir, `${name}.cfg`);
    writeFileSync(file, config);
    const child = spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    for (const stream of [child.stdout!, child.stderr!]) stream.on('data', (c: Buffer) => (output += c.toString()));
    haproxies.push(child);
    await waitFor(
      () =>
        new Promise<boolean>((resolve) => {
          if (child.exitCode !== null) throw new Error(`haproxy exited: ${output}`);
          const socket = connect({ host: '127.0.0.1', port }, () => {
            socket.destroy();
            resolve(true);
          });
          socket.on('error', () => resolve(false));
        }),
      { timeoutMs: 10_000, what: `haproxy on port ${port}` },
    );
  }

  const GLOBAL = 'global\n  log stderr format raw local0 warning\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 10s\n  timeout server 10s\n';

  it('a Kirin listener with proxyProtocol reads HAProxy’s send-proxy-v2 (with TLVs): the app sees the client, not HAProxy', async () => {
    const [front, homePort] = await Promise.all([freePort(), freePort()]);
    const project = join(dir, 'home');
    writeFiles(project, {
      'app.ts': `export default { fetch: (r: Request) => new Response('client ' + r.headers.get('x-forwarded-for')) };\n`,
      'kirin.config.json': JSON.stringify({
        workers: 1,
        admin: false,
        stateDir: './state',
        trustedProxies: ['127.0.0.1'],
        listen: { http: [{ address: `127.0.0.2:${homePort}`, proxyProtocol: true }] },
        sites: { '*': { '/': { app: './app.ts' } } },
      }),
    });
    const home: KirinProcess = await startKirin({ cwd: project, args: ['serve', '--config', 'kirin.config.json'] });
    try {
      await startHaproxy(
        'sender',
        `${GLOBAL}frontend in\n  bind 127.0.0.1:${front}\n  default_backend home\nbackend home\n  server kirin 127.0.0.2:${homePort} send-proxy-v2 proxy-v2-options authority,unique-id,crc32c\n  unique-id-format %{+X}o\\ %ci:%cp\n`,
        front,
      );
      const response = await new Promise<string>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port: front, localAddress: '127.0.0.3' }, () => socket.end('GET /x HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n'));
        let text = '';
        socket.on('data', (c: Buffer) => (text += c.toString()));
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
      });
      assert.match(response, /^HTTP\/1\.1 200/);
      assert.match(response, /client 127\.0\.0\.3$/);
    } finally {
      await home.stop();
    }
  });

  it('HAProxy’s accept-proxy reads the header the relay writes, for IPv4 and IPv6 clients', async () => {
    const port = await freePort();
    await startHaproxy('receiver', `${GLOBAL}frontend in\n  bind 127.0.0.1:${port} accept-proxy\n  http-request return status 200 content-type text/plain lf-string "%[src] %[src_port] %[dst] %[dst_port]"\n`, port);
    for (const [source, destination] of [
      [{ address: '203.0.113.9', port: 51234 }, { address: '192.0.2.1', port: 443 }],
      [{ address: '2001:db8::7', port: 4000 }, { address: '2001:db8::1', port: 80 }],
    ] as const) {
      const response = await new Promise<string>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port }, () => socket.end(Buffer.concat([encodeProxyHeader(source, destination), Buffer.from('GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n')])));
        let text = '';
        socket.on('data', (c: Buffer) => (text += c.toString()));
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
      });
      assert.match(response, /^HTTP\/1\.1 200/);
      assert.ok(response.endsWith(`${source.address} ${source.port} ${destination.address} ${destination.port}`), response);
    }
  });
});
