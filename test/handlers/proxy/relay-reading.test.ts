/**
 * How the relay reads an upstream's answer: its head (upstream-head.ts) and
 * where a chunked body ends (chunked-end.ts). Anything doubtful is refused,
 * so the full path's parser judges it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChunkedEnd } from '../../../src/handlers/proxy/chunked-end.ts';
import { emptyUpstreamHead, readUpstreamHead } from '../../../src/handlers/proxy/upstream-head.ts';

function head(text: string) {
  const into = emptyUpstreamHead();
  return readUpstreamHead(`${text}\r\n`, into) ? into : null;
}

describe('readUpstreamHead', () => {
  it('keeps end-to-end lines as they came and drops hop-by-hop ones, with those Connection names', () => {
    const read = head('HTTP/1.1 200 OK\r\nX-One: 1\r\nConnection: close, X-Two\r\nX-Two: 2\r\nKeep-Alive: timeout=3\r\nDate: now\r\nContent-Length: 4\r\n');
    assert.ok(read);
    assert.equal(read.fields, 'X-One: 1\r\nDate: now\r\nContent-Length: 4\r\n');
    assert.equal(read.keepAlive, false);
    assert.equal(read.keepAliveMs, 3000);
    assert.equal(read.hasDate, true);
    assert.equal(read.contentLength, 4);
  });

  it('keeps Content-Length even when Connection names it', () => {
    assert.equal(head('HTTP/1.1 200 OK\r\nConnection: content-length\r\nContent-Length: 4\r\n')?.fields, 'Content-Length: 4\r\n');
  });

  it('knows HTTP/1.0 closes unless it says keep-alive', () => {
    assert.equal(head('HTTP/1.0 200 OK\r\n')?.keepAlive, false);
    assert.equal(head('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n')?.keepAlive, true);
    assert.equal(head('HTTP/1.1 200 OK\r\n')?.keepAlive, true);
  });

  it('refuses what it cannot vouch for', () => {
    for (const text of [
      'HTTP/2 200\r\n',
      'HTTP/1.1 20 OK\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 4\r\nContent-Length: 5\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n',
      'HTTP/1.1 200 OK\r\nBad Name: x\r\n',
      'HTTP/1.1 200 OK\r\nX: a\nb\r\n',
    ]) {
      assert.equal(head(text), null, JSON.stringify(text));
    }
  });
});

describe('ChunkedEnd', () => {
  const body = '4;a=b\r\nWiki\r\n0006\r\npedia \r\n0\r\nX-Trailer: t\r\n\r\n';
  const passed = '4;a=b\r\nWiki\r\n0006\r\npedia \r\n0\r\n';

  it('finds the end however the body is split, and leaves the trailers out', () => {
    const bytes = Buffer.from(`${body}NEXT`);
    for (let cut = 0; cut <= body.length; cut++) {
      const scanner = new ChunkedEnd();
      let out = '';
      let ended = false;
      let bodyEnd = -1;
      for (const [start, piece] of [
        [0, bytes.subarray(0, cut)],
        [cut, bytes.subarray(cut)],
      ] as const) {
        if (ended || piece.length === 0) continue;
        ended = scanner.scan(piece, 0);
        out += piece.subarray(0, scanner.passEnd).toString();
        if (ended) bodyEnd = start + scanner.bodyEnd;
      }
      assert.equal(ended, true, `cut at ${cut}`);
      assert.equal(out, passed, `cut at ${cut}`);
      assert.equal(bodyEnd, body.length, `cut at ${cut}`);
    }
  });

  it('throws on a malformed body', () => {
    for (const bad of ['x\r\n', '4\r\nWikiX\r\n', '4\nWiki\r\n', '\r\n', 'fffffffffffffff\r\n']) {
      assert.throws(() => new ChunkedEnd().scan(Buffer.from(bad), 0), Error, JSON.stringify(bad));
    }
  });
});
