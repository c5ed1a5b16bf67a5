/**
 * The fast lane's recognizer: what it takes, and that it lets everything else
 * through to node:http (false) rather than guessing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { emptySimpleRequest, recognizeSimpleRequest } from '../../src/worker/simple-request.ts';

const MAX_HEADERS = 100;

function recognize(text: string, maxHeaders = MAX_HEADERS) {
  const into = emptySimpleRequest();
  return recognizeSimpleRequest(text, maxHeaders, into) ? into : null;
}

describe('recognizeSimpleRequest', () => {
  it('takes a plain GET or HEAD and keeps what the lane needs', () => {
    const text = 'GET /a/b.css?v=1 HTTP/1.1\r\nHost: example.test:8080\r\nUser-Agent: curl/8\r\nAccept: */*\r\nAccept-Encoding: gzip, br\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n';
    const get = recognize(text);
    assert.deepEqual(
      { ...get, head: undefined, fieldsStart: undefined, hostLine: undefined, dropped: undefined },
      { method: 'GET', target: '/a/b.css?v=1', host: 'example.test:8080', acceptEncoding: 'gzip, br', userAgent: 'curl/8', forwardedFor: '203.0.113.9', forwardedProto: undefined, head: undefined, fieldsStart: undefined, hostLine: undefined, dropped: undefined },
    );
    const head = recognize('HEAD / HTTP/1.1\r\nhost: a\r\n\r\n');
    assert.equal(head?.method, 'HEAD');
    assert.equal(head?.host, 'a');
  });

  it('marks the lines a forwarder leaves out: hop-by-hop fields and the X-Forwarded-* it states itself', () => {
    const text =
      'GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nAccept: */*\r\nTE: trailers\r\nX-Forwarded-For: 192.0.2.1\r\nX-Forwarded-Proto: https\r\n' +
      'Proxy-Authorization: Basic eA==\r\nKeep-Alive: timeout=5\r\nCookie: c=1\r\n\r\n';
    const into = recognize(text)!;
    assert.equal(into.head, text);
    assert.equal(text.slice(into.fieldsStart, text.indexOf('\r\n', into.fieldsStart)), 'Host: a');
    assert.equal(text.slice(...into.hostLine), 'Host: a\r\n');
    assert.equal(into.forwardedProto, 'https');
    const dropped: string[] = [];
    for (let i = 0; i < into.dropped.length; i += 2) dropped.push(text.slice(into.dropped[i], into.dropped[i + 1]));
    assert.deepEqual(dropped, [
      'Connection: keep-alive\r\n',
      'TE: trailers\r\n',
      'X-Forwarded-For: 192.0.2.1\r\n',
      'X-Forwarded-Proto: https\r\n',
      'Proxy-Authorization: Basic eA==\r\n',
      'Keep-Alive: timeout=5\r\n',
    ]);
    assert.equal(recognize('GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Proto: http\r\n\r\n'), null, 'two X-Forwarded-Proto: the full path weighs them');
  });

  it('reads header names in any case and trims optional whitespace', () => {
    assert.equal(recognize('GET / HTTP/1.1\r\nHOST:\t a.test \t\r\nACCEPT-ENCODING:br\r\n\r\n')?.host, 'a.test');
    assert.equal(recognize('GET / HTTP/1.1\r\nHOST:\t a.test \t\r\nACCEPT-ENCODING:br\r\n\r\n')?.acceptEncoding, 'br');
    assert.ok(recognize('GET / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive\r\n\r\n'), 'keep-alive is what the lane does anyway');
  });

  it('forgets the previous request’s optional fields', () => {
    const into = emptySimpleRequest();
    assert.ok(recognizeSimpleRequest('GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: one\r\nAccept-Encoding: br\r\n\r\n', MAX_HEADERS, into));
    assert.ok(recognizeSimpleRequest('GET / HTTP/1.1\r\nHost: a\r\n\r\n', MAX_HEADERS, into));
    assert.equal(into.userAgent, undefined);
    assert.equal(into.acceptEncoding, undefined);
  });

  it('lets anything but one whole request in the read go to node:http', () => {
    const one = 'GET / HTTP/1.1\r\nHost: a\r\n\r\n';
    for (const text of ['', 'GET / HTTP/1.1\r\nHost: a\r\n', one.slice(0, -1), one + one, `${one}x`, `${one}\r\n`]) {
      assert.equal(recognize(text), null, JSON.stringify(text));
    }
  });

  it('takes only GET and HEAD, HTTP/1.1, origin-form targets of visible ASCII', () => {
    for (const line of [
      'POST / HTTP/1.1',
      'OPTIONS * HTTP/1.1',
      'get / HTTP/1.1',
      'GET http://a/ HTTP/1.1',
      'GET / HTTP/1.0',
      'GET / HTTP/2.0',
      'GET /  HTTP/1.1',
      'GET /a b HTTP/1.1',
      'GET /\u00e9 HTTP/1.1',
      'GET /\u0001 HTTP/1.1',
      'GET / HTTP/1.1 ',
    ]) {
      assert.equal(recognize(`${line}\r\nHost: a\r\n\r\n`), null, line);
    }
  });

  it('wants exactly one Host', () => {
    assert.equal(recognize('GET / HTTP/1.1\r\nAccept: */*\r\n\r\n'), null);
    assert.equal(recognize('GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'), null);
    assert.equal(recognize('GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n'), null);
  });

  it('lets malformed field lines go to node:http to refuse', () => {
    for (const field of [
      'Bad Name: x',
      'Name : x',
      ': x',
      'NoColon',
      ' Folded: x',
      'X-Ctl: a\u0000b',
      'X-Ctl: a\u007fb',
      'X-Lf: a\nb',
      'X-Cr: a\rb',
      'X-\u00e9: x',
    ]) {
      assert.equal(recognize(`GET / HTTP/1.1\r\nHost: a\r\n${field}\r\n\r\n`), null, JSON.stringify(field));
    }
    assert.equal(recognize('GET / HTTP/1.1\nHost: a\n\n'), null, 'bare LF line ends');
    assert.equal(recognize('GET / HTTP/1.1\r\nHost: a\r\nX-Tab: a\tb\r\nX-Latin: caf\u00e9\r\n\r\n')?.host, 'a', 'HTAB and obs-text are field content');
  });

  it('lets requests whose answer depends on more than the path go to node:http', () => {
    for (const field of [
      'Content-Length: 0',
      'Transfer-Encoding: chunked',
      'Upgrade: websocket',
      'Expect: 100-continue',
      'Range: bytes=0-1',
      'If-Range: "x"',
      'If-Match: *',
      'If-None-Match: "x"',
      'If-Modified-Since: Sat, 21 Nov 2026 00:00:00 GMT',
      'If-Unmodified-Since: Sat, 21 Nov 2026 00:00:00 GMT',
      'X-Forwarded-Host: b',
      'Forwarded: for=1.2.3.4',
      'Connection: close',
      'Connection: upgrade',
      'Connection: keep-alive, x-foo',
    ]) {
      assert.equal(recognize(`GET / HTTP/1.1\r\nHost: a\r\n${field}\r\n\r\n`), null, field);
    }
    assert.equal(recognize('GET / HTTP/1.1\r\nHost: a\r\nAccept-Encoding: br\r\nAccept-Encoding: gzip\r\n\r\n'), null, 'repeated fields the full path combines');
    assert.equal(recognize('GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.1.1.1\r\nX-Forwarded-For: 2.2.2.2\r\n\r\n'), null);
  });

  it('counts header fields against the limit', () => {
    const fields = (n: number) => Array.from({ length: n }, (_, i) => `X-${i}: v\r\n`).join('');
    assert.ok(recognize(`GET / HTTP/1.1\r\nHost: a\r\n${fields(9)}\r\n`, 10));
    assert.equal(recognize(`GET / HTTP/1.1\r\nHost: a\r\n${fields(10)}\r\n`, 10), null);
  });
});
