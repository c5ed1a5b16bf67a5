import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeAppError, describeAppStatus, forwardAppError, forwardAppStatus, type AppErrorReport, type ErrorRequest } from '../../src/observe/app-errors.ts';
import { redactHeaders, redactTarget, redactUrl } from '../../src/observe/redact.ts';

function request(headers: Record<string, string>, path = '/orders/42', query = '?page=2&api_key=abc&token=xyz'): ErrorRequest {
  return {
    method: 'POST',
    scheme: 'https',
    authority: 'shop.test',
    encodedPath: path,
    query,
    clientIp: '203.0.113.9',
    req: { headers },
    site: { plan: { key: 'shop.test' } },
    route: { plan: { at: 'sites["shop.test"]["/"]' } },
  };
}

describe('app error reports', () => {
  it('carries the stack and the request, without credentials', () => {
    const report = describeAppError(
      request({ host: 'shop.test', 'user-agent': 'curl/8', authorization: 'Bearer s3cret', cookie: 'sessionid=s3cret', 'x-api-key': 's3cret', 'x-csrftoken': 's3cret' }),
      new TypeError('order 42 not found'),
    );
    assert.equal(report.name, 'TypeError');
    assert.match(report.stack, /TypeError: order 42 not found\n\s+at /);
    assert.equal(report.request!.url, 'https://shop.test/orders/42?page=2&api_key=[removed]&token=[removed]');
    assert.equal(report.request!.headers['user-agent'], 'curl/8');
    for (const name of ['authorization', 'cookie', 'x-api-key', 'x-csrftoken']) assert.equal(report.request!.headers[name], '[removed]');
    assert.doesNotMatch(JSON.stringify(report), /s3cret|xyz|abc/);
  });

  it('describes thrown non-errors and errors outside a request', () => {
    const report = describeAppError(null, 'just a string');
    assert.equal(report.name, 'string');
    assert.equal(report.message, 'just a string');
    assert.equal(report.request, null);
  });

  it('sends a burst of thirty reports from a worker, then ten a second, and says how many it dropped', () => {
    const sent: AppErrorReport[] = [];
    const notify = (type: string, payload: unknown) => {
      assert.equal(type, 'app-error');
      sent.push(payload as AppErrorReport);
    };
    const ctx = request({});
    const t0 = Date.now() + 60_000;
    for (let i = 0; i < 50; i++) forwardAppError(notify, ctx, new Error('flood'), t0 + i);
    assert.equal(sent.length, 30);
    forwardAppError(notify, ctx, new Error('next second'), t0 + 1000);
    assert.equal(sent.length, 31);
    assert.equal(sent.at(-1)!.dropped, 20);
    assert.equal(sent.at(-1)!.message, 'next second');
    // Status reports share the cap: a second on, what was left (9) and ten more get through, not a whole new burst.
    for (let i = 0; i < 50; i++) forwardAppStatus(notify, ctx, 500, t0 + 2000 + i);
    assert.equal(sent.length, 31 + 19);
  });

  it('reports a 5xx the app answered itself with its request and status, without a stack', () => {
    const report = describeAppStatus(request({ authorization: 'Bearer s3cret' }), 503);
    assert.equal(report.status, 503);
    assert.equal(report.name, '503 Service Unavailable');
    assert.equal(report.stack, '');
    assert.equal(report.request!.url, 'https://shop.test/orders/42?page=2&api_key=[removed]&token=[removed]');
    assert.equal(report.request!.headers.authorization, '[removed]');
  });
});

describe('redaction', () => {
  it('keeps header names, drops secret values, cuts long values', () => {
    const out = redactHeaders({ 'proxy-authorization': 'Basic x', 'x-session-id': 'x', accept: 'text/html', 'x-long': 'a'.repeat(2000), skipped: undefined });
    assert.equal(out['proxy-authorization'], '[removed]');
    assert.equal(out['x-session-id'], '[removed]');
    assert.equal(out.accept, 'text/html');
    assert.ok(out['x-long']!.length < 600);
    assert.ok(!('skipped' in out));
  });

  it('removes secret query parameters, however they are encoded', () => {
    assert.equal(redactTarget('/a?pass%77ord=x&q=1'), '/a?pass%77ord=[removed]&q=1');
    assert.equal(redactTarget('/a?flag&Secret=1'), '/a?flag&Secret=[removed]');
    assert.equal(redactTarget('/plain'), '/plain');
  });

  it('removes user and password from URLs', () => {
    assert.equal(redactUrl('http://user:pw@127.0.0.1:9000/x'), 'http://127.0.0.1:9000/x');
    assert.equal(redactUrl('http://127.0.0.1:9000/x'), 'http://127.0.0.1:9000/x');
    assert.equal(redactUrl('smtp://me:p@ss@mail.test:587'), 'smtp://mail.test:587');
    assert.equal(redactUrl('http://127.0.0.1:9000/x?a=b@c'), 'http://127.0.0.1:9000/x?a=b@c');
  });
});
