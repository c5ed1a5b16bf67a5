/**
 * `limits.sendTimeout` over HTTP/1.1, plain and TLS (nginx's send_timeout): a
 * client that stops reading an answer has its connection closed, so a
 * response held for it — here 32 MB an app wrote at once — does not stay in
 * the worker for as long as the client likes; a client that reads slowly is
 * never cut. (HTTP/2 streams: h2-hostile.test.ts.)
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { startKirin, tempDir, writeFiles, type KirinProcess } from '../support/kirin.ts';

const BIG = 32 << 20;
const MEDIUM = 16 << 20;
const APP = `
export default function app(req, res) {
  const size = req.url === '/big' ? ${BIG} : ${MEDIUM};
  res.setHeader('content-type', 'application/octet-stream');
  res.end(Buffer.alloc(size, 120));
}
`;
const STALLED = /^closed a connection whose client took nothing of the response/;

describe('HTTP/1.1 clients that stop reading (limits.sendTimeout)', () => {
  let kirin: KirinProcess;
  let httpPort: number;
  let httpsPort: number;
  let ca: Buffer;

  before(async () => {
    const dir = tempDir('kirin-slow-reader-');
    writeFiles(dir, {
      'app.mjs': APP,
      'kirin.config.json': JSON.stringify({
        listen: { http: ['127.0.0.1:0'], https: ['127.0.0.1:0'] },
        limits: { sendTimeout: '1s' },
        workers: 1,
        admin: false,
        accessLog: false,
        logLevel: 'debug',
        stateDir: './state',
        sites: {
          'app.localhost': { '/': { app: './app.mjs' } },
          // Plain HTTP to a TLS site is a redirect: this one answers on the http listener.
          'plain.localhost': { tls: 'off', '/': { app: './app.mjs' } },
        },
      }),
    });
    kirin = await startKirin({ cwd: dir, args: ['serve', '--config', 'kirin.config.json'] });
    httpPort = Number(new URL(kirin.urls.find((u) => u.startsWith('http:'))!).port);
    httpsPort = Number(new URL(kirin.urls.find((u) => u.startsWith('https:'))!).port);
    ca = readFileSync(join(dir, 'state', 'tls', 'local-ca', 'root.crt'));
  });
  after(() => kirin?.stop());

  const HOST = { http: 'plain.localhost', https: 'app.localhost' };
  const open = {
    http: () => netConnect(httpPort, '127.0.0.1'),
    https: () => tlsConnect({ port: httpsPort, host: '127.0.0.1', servername: 'app.localhost', ca, ALPNProtocols: ['http/1.1'] }),
  };

  for (const scheme of ['http', 'https'] as const) {
    it(`${scheme}: closes the connection of a client that takes nothing, then the client gets a cut-short body`, async () => {
      const cutBefore = kirin.lines.filter((l) => STALLED.test(String(l.msg))).length;
      const socket = open[scheme]();
      socket.pause();
      socket.write(`GET /big HTTP/1.1\r\nHost: ${HOST[scheme]}\r\n\r\n`);
      await kirin.waitForLine(() => kirin.lines.filter((l) => STALLED.test(String(l.msg))).length > cutBefore, 20_000, 'the stalled connection closed');
      // What the kernels had buffered still arrives; then the connection ends, well short of the body.
      const received = await readToEnd(socket, () => {});
      assert.ok(received < BIG, `${received} bytes of ${BIG}: cut short`);
    });

    it(`${scheme}: never cuts a client that reads slowly`, async () => {
      const socket = open[scheme]();
      socket.write(`GET /medium HTTP/1.1\r\nHost: ${HOST[scheme]}\r\nConnection: close\r\n\r\n`);
      // Half a megabyte, then a pause, again and again (~4 MB/s): the app's single 16 MB write stays in
      // progress for seconds, longer than sendTimeout; what the kernel takes of it is the progress that counts.
      let sincePause = 0;
      const received = await readToEnd(socket, (chunk) => {
        sincePause += chunk;
        if (sincePause < 512 * 1024) return;
        sincePause = 0;
        socket.pause();
        setTimeout(() => socket.resume(), 100);
      });
      assert.ok(received > MEDIUM, `the whole body arrived: ${received} bytes (head included) for ${MEDIUM}`);
    });
  }
});

/** Reads until the server ends the connection; `onChunk` (given each chunk's size) may throttle. Returns the bytes read. */
function readToEnd(socket: Socket, onChunk: (bytes: number) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    let bytes = 0;
    socket.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      onChunk(chunk.length);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? resolve(bytes) : reject(error)));
    socket.once('close', () => resolve(bytes));
    socket.resume();
  });
}
