/**
 * The load generator behind the zero-downtime proof must see every kind of
 * failure, or "0 failures" proves nothing.
 */
import assert from 'node:assert/strict';
import { createServer, type RequestListener, type Server } from 'node:http';
import { after, describe, it } from 'node:test';
import { describeLoad, startLoad } from '../../bench/lib/load.ts';
import { freePort } from '../support/kirin.ts';

const servers: Server[] = [];
after(() => {
  for (const server of servers) server.closeAllConnections();
  for (const server of servers) server.close();
});

async function serve(listener: RequestListener): Promise<string> {
  const server = createServer(listener);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
}

/** Runs the load until `requests` have finished, then stops it. */
async function loadUntil(options: Parameters<typeof startLoad>[0], requests = 200) {
  const load = startLoad(options);
  await load.waitForRequests(requests, 20_000);
  return load.stop();
}

describe('bench/lib/load.ts', () => {
  it('counts successful keep-alive requests, one connection per client', async () => {
    const url = await serve((_req, res) => res.end('ok'));
    const report = await loadUntil({ url, concurrency: 5, expectBody: 'ok' });
    assert.equal(report.failures, 0, describeLoad(report));
    assert.equal(report.ok, report.requests);
    assert.equal(report.connections, 5);
  });

  it('opens a new connection per request with connection: close', async () => {
    const url = await serve((_req, res) => res.end('ok'));
    const report = await loadUntil({ url, concurrency: 4, connection: 'close' }, 100);
    assert.equal(report.failures, 0, describeLoad(report));
    assert.equal(report.connections, report.requests);
  });

  it('counts non-2xx responses by status', async () => {
    let n = 0;
    const url = await serve((_req, res) => {
      res.statusCode = ++n % 2 === 0 ? 503 : 200;
      res.end();
    });
    const report = await loadUntil({ url, concurrency: 2 });
    assert.ok(report.non2xx > 0 && report.ok > 0, describeLoad(report));
    assert.equal(report.statuses['503'], report.non2xx);
    assert.equal(report.failures, report.non2xx);
  });

  it('counts connections reset mid-request and bodies cut short', async () => {
    let n = 0;
    const url = await serve((req, res) => {
      const i = ++n;
      if (i % 3 === 0) req.socket.destroy();
      else if (i % 3 === 1) {
        res.writeHead(200, { 'content-length': '100' });
        res.write('partial');
        setImmediate(() => req.socket.destroy());
      } else res.end('ok');
    });
    const report = await loadUntil({ url, concurrency: 3 });
    assert.ok(report.resets > 0, describeLoad(report));
    assert.equal(report.failures, report.resets + report.otherErrors, describeLoad(report));
    assert.ok(report.ok > 0);
  });

  it('counts refused connections when nothing listens', async () => {
    const url = `http://127.0.0.1:${await freePort()}/`;
    const report = await loadUntil({ url, concurrency: 2 }, 20);
    assert.equal(report.refused, report.requests, describeLoad(report));
    assert.equal(report.ok, 0);
  });

  it('counts requests without a response in time as timeouts', async () => {
    const url = await serve(() => {
      // Never answers.
    });
    const report = await loadUntil({ url, concurrency: 2, timeoutMs: 100 }, 4);
    assert.equal(report.timeouts, report.requests, describeLoad(report));
  });

  it('counts a 2xx with the wrong body as a failure', async () => {
    const url = await serve((_req, res) => res.end('not what you expected'));
    const report = await loadUntil({ url, concurrency: 2, expectBody: 'ok' }, 20);
    assert.equal(report.badBodies, report.requests, describeLoad(report));
  });

  it('counts responses and new connections by a response header', async () => {
    let n = 0;
    const url = await serve((_req, res) => {
      res.setHeader('x-worker', n++ % 2 === 0 ? 'a' : 'b');
      res.end('ok');
    });
    const report = await loadUntil({ url, concurrency: 2, connection: 'close', countHeader: 'X-Worker' }, 40);
    assert.equal((report.byHeader.a ?? 0) + (report.byHeader.b ?? 0), report.requests);
    assert.ok(report.byHeader.a! > 0 && report.byHeader.b! > 0);
    assert.deepEqual(report.connectionsByHeader, report.byHeader);
  });
});
