/**
 * One request set both lanes must answer alike. A proxy route's plain GET is
 * relayed by the fast lane as raw bytes (fast-lane.ts, proxy/relay.ts) when it
 * comes alone in a read, and by node:http's full path (proxy/exchange.ts) when
 * it comes pipelined behind another: both follow worker/http-fields.ts, and
 * this suite holds them to it. For each request, what the upstream receives
 * and what the client receives must be the same on both paths — hop-by-hop
 * fields (and those a Connection field names) dropped both ways, the fields
 * Kirin vouches for set by Kirin, nothing else touched.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { metric, startWithAdmin } from '../support/admin.ts';
import { bothLanes, type WireResponse } from '../support/http.ts';
import { portOf, tempDir, waitFor, writeFiles, type KirinProcess } from '../support/kirin.ts';

/** [what it tries, extra request field lines, whether the fast lane takes it alone]. */
const REQUESTS: [string, string, boolean][] = [
  ['a plain GET', '', true],
  ['keep-alive said out loud', 'Connection: keep-alive\r\n', true],
  ['hop-by-hop fields of the client', 'Keep-Alive: timeout=5\r\nTE: trailers\r\nTrailer: x-sum\r\nProxy-Connection: keep-alive\r\nProxy-Authorization: Basic YTpi\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n', true],
  ['a client that claims to be someone else', 'X-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: https\r\n', true],
  ['Connection naming fields to drop, one Kirin vouches for among them', 'Connection: keep-alive, X-Secret, X-Forwarded-For\r\nX-Secret: 1\r\n', false],
  ['a HEAD', '', true],
];

/** What the upstream answers with: hop-by-hop fields of its own, one it lists in Connection, and one listed that must stay. */
const UPSTREAM_FIELDS: Record<string, string> = {
  connection: 'keep-alive, X-Internal, Content-Length',
  'x-internal': 'upstream only',
  'keep-alive': 'timeout=30',
  'proxy-authenticate': 'Basic realm="upstream"',
  'x-kept': 'for the client',
};

function requestLine(method: string, fields: string): string {
  return `${method} /api/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: contract/1\r\n${fields}\r\n`;
}

/** The head without Date (the one field that changes from second to second). */
const headOf = (response: WireResponse) => response.head.replace(/\r\nDate: [^\r]*/i, '');

describe('both lanes answer one request set alike', () => {
  let kirin: KirinProcess;
  let admin: string;
  let port: number;
  let upstream: Server;
  const seen: IncomingHttpHeaders[] = [];

  before(async () => {
    const dir = tempDir('kirin-lane-contract-');
    upstream = createServer((req, res) => {
      seen.push(req.headers);
      const body = 'the same body\n';
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), ...UPSTREAM_FIELDS });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    writeFiles(dir, {
      'kirin.config.json': JSON.stringify({
        admin: { listen: '127.0.0.1:0' },
        sites: { '127.0.0.1': { '/api/': { proxy: `http://127.0.0.1:${(upstream.address() as { port: number }).port}` } } },
      }),
    });
    ({ kirin, admin } = await startWithAdmin(dir, 1));
    port = portOf(kirin.url);
  });
  after(async () => {
    upstream?.closeAllConnections();
    upstream?.close();
    await kirin?.stop();
  });

  for (const [what, fields, laneTakes] of REQUESTS) {
    it(what, async () => {
      const method = what === 'a HEAD' ? 'HEAD' : 'GET';
      const request = requestLine(method, fields);
      const laneCount = async () => (await metric(admin, 'kirin_http_fast_lane_requests_total')) ?? 0;
      const routeCount = async () => (await metric(admin, 'kirin_http_requests_total', { site: '127.0.0.1', route: '/api', status_class: '2xx' })) ?? 0;
      const laneBefore = await laneCount();
      const routeBefore = await routeCount();

      seen.length = 0;
      const { fast, full } = await bothLanes(port, request);

      // The metrics come from the worker in batches: once they count all three requests, the lane's share is final.
      await waitFor(async () => (await routeCount()) >= routeBefore + 3, { what: 'the three requests in the metrics' });
      const laneTook = (await laneCount()) - laneBefore;
      assert.equal(laneTook, laneTakes ? 1 : 0, 'which path answered the lone request');
      assert.equal(seen.length, 3, 'the upstream got all three requests');
      const [byLane, byFullPath] = seen as [IncomingHttpHeaders, IncomingHttpHeaders];
      // The hop between Kirin and the upstream is Kirin's own: its Connection field says nothing about the client's.
      const endToEnd = (headers: IncomingHttpHeaders) => Object.fromEntries(Object.entries(headers).filter(([name]) => name !== 'connection'));
      assert.deepEqual(endToEnd(byLane), endToEnd(byFullPath), 'the upstream sees the same request');
      for (const dropped of ['keep-alive', 'te', 'trailer', 'proxy-connection', 'proxy-authorization', 'http2-settings', 'x-secret']) {
        assert.equal(byLane[dropped], undefined, `${dropped} is not forwarded`);
      }
      assert.equal(byLane['x-forwarded-for'], '127.0.0.1', 'Kirin states the client, whatever it claims or lists');
      assert.equal(byLane['x-forwarded-proto'], 'http');

      assert.equal(headOf(fast), headOf(full), 'the client sees the same head');
      assert.deepEqual(fast.body, full.body, 'and the same body');
      assert.equal(fast.headers['x-internal'], undefined, 'a field the upstream lists in Connection stays behind');
      assert.equal(fast.headers['proxy-authenticate'], undefined);
      assert.equal(fast.headers['x-kept'], 'for the client');
      assert.ok(method === 'HEAD' || fast.headers['content-length'] === '14', 'Content-Length frames the body, whatever Connection lists');
    });
  }
});
