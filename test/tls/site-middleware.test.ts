import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import type { ServePlan, SitePlan } from '../../src/config/plan.ts';
import { LocalCa } from '../../src/tls/local-ca.ts';
import type { WorkerCertificate } from '../../src/tls/messages.ts';
import { httpsSiteStep } from '../../src/tls/site-middleware.ts';
import { WorkerTls } from '../../src/tls/worker-tls.ts';
import type { Middleware, RequestContext, WorkerServices } from '../../src/worker/context.ts';
import type { Pipeline } from '../../src/worker/pipeline.ts';
import { tempDir } from '../support/kirin.ts';

/** The step as it runs in a chain (on plain HTTP, or behind a trusted proxy). */
const httpsSiteMiddleware = (...args: Parameters<typeof httpsSiteStep>): Middleware | null => httpsSiteStep(...args)?.middleware ?? null;

const PLAN = { listen: { http: [], https: [{ kind: 'tcp', host: '127.0.0.1', port: 0 }] } } as unknown as ServePlan;

interface Captured {
  status: number;
  headers: Record<string, unknown>;
  body: string;
  nextCalled: boolean;
}

const site = (mode: 'auto' | 'local' | 'off', hstsSeconds = 63072000) => ({ key: 'x', hosts: ['shop.example.com'], tls: { mode }, hstsSeconds, headers: null, routes: [] }) as unknown as SitePlan;

async function readyTls(withCertificateFor: string[]): Promise<WorkerTls> {
  const tls = new WorkerTls();
  const ca = new LocalCa(tempDir());
  const certificates: WorkerCertificate[] = [];
  for (const name of withCertificateFor) certificates.push({ id: name, names: [name], ...(await ca.issue([name])) });
  const worker: WorkerServices = {
    logger: pino({ level: 'silent' }),
    ask: async <T,>() => ({ certificates, challenges: { version: 1, http01: { tok: 'tok.thumb' }, alpn: [] }, ticketKeys: '' }) as T,
    onPush: () => {},
    notify: () => {},
  };
  await tls.attach(worker, {} as Pipeline);
  tls.httpsPort = 8443;
  return tls;
}

async function runOnce(middleware: Middleware, request: { secure?: boolean; scheme?: 'http' | 'https'; host?: string; path?: string; query?: string }): Promise<Captured> {
  const captured: Captured = { status: 0, headers: {}, body: '', nextCalled: false };
  const res = {
    headersSent: false,
    setHeader: (name: string, value: unknown) => (captured.headers[name.toLowerCase()] = value),
    writeHead(status: number, headers: Record<string, unknown>) {
      captured.status = status;
      for (const [k, v] of Object.entries(headers)) captured.headers[k.toLowerCase()] = v;
    },
    end: (body?: string) => (captured.body = body ?? ''),
  };
  const path = request.path ?? '/a/b';
  const ctx = {
    secure: request.secure ?? false,
    scheme: request.scheme ?? (request.secure ? 'https' : 'http'),
    host: request.host ?? 'shop.example.com',
    path,
    encodedPath: path,
    query: request.query ?? '',
    method: 'GET',
    req: { url: path + (request.query ?? '') },
    res,
  } as unknown as RequestContext;
  await middleware(ctx, () => {
    captured.nextCalled = true;
  });
  return captured;
}

describe('https site middleware', () => {
  it('does nothing for sites without TLS, or without an https listener to send them to', () => {
    assert.equal(httpsSiteMiddleware(site('off'), null, PLAN), null);
    assert.equal(httpsSiteMiddleware(site('auto'), null, { listen: { http: [], https: [] } } as unknown as ServePlan), null);
  });

  it('adds HSTS over TLS and when a trusted proxy says the client used https', async () => {
    const middleware = httpsSiteMiddleware(site('auto', 300), null, PLAN, await readyTls(['shop.example.com']))!;
    const secure = await runOnce(middleware, { secure: true });
    assert.equal(secure.nextCalled, true);
    assert.equal(secure.headers['strict-transport-security'], 'max-age=300');
    const proxied = await runOnce(middleware, { scheme: 'https' });
    assert.equal(proxied.nextCalled, true);
    assert.equal(proxied.headers['strict-transport-security'], 'max-age=300');
    const off = await runOnce(httpsSiteMiddleware(site('auto', 0), null, PLAN, await readyTls(['shop.example.com']))!, { secure: true });
    assert.equal(off.headers['strict-transport-security'], undefined);
  });

  it('redirects plain HTTP with 308 to the https port, keeping the path and query', async () => {
    const middleware = httpsSiteMiddleware(site('auto'), null, PLAN, await readyTls(['shop.example.com']))!;
    const res = await runOnce(middleware, { path: '/a%20b/c', query: '?x=1' });
    assert.equal(res.status, 308);
    assert.equal(res.headers.location, 'https://shop.example.com:8443/a%20b/c?x=1');
    assert.equal(res.headers['strict-transport-security'], undefined);
    assert.equal(res.nextCalled, false);
  });

  it('answers 503 "on its way" over HTTP while the certificate is missing', async () => {
    const middleware = httpsSiteMiddleware(site('auto'), null, PLAN, await readyTls([]))!;
    const res = await runOnce(middleware, {});
    assert.equal(res.status, 503);
    assert.match(res.body, /the HTTPS certificate for shop\.example\.com is on its way/);
    assert.equal(res.headers['retry-after'], '60');
  });

  it('answers known ACME tokens and passes unknown challenge paths on, never redirecting them', async () => {
    const middleware = httpsSiteMiddleware(site('auto'), null, PLAN, await readyTls([]))!;
    const known = await runOnce(middleware, { path: '/.well-known/acme-challenge/tok' });
    assert.equal(known.status, 200);
    assert.equal(known.body, 'tok.thumb');
    const unknown = await runOnce(middleware, { path: '/.well-known/acme-challenge/other' });
    assert.equal(unknown.nextCalled, true);
    assert.equal(unknown.status, 0);
  });

  it('waits for the master’s snapshot before deciding (a worker’s first requests)', async () => {
    const tls = new WorkerTls();
    const middleware = httpsSiteMiddleware(site('auto'), null, PLAN, tls)!;
    let answer!: (value: unknown) => void;
    const worker = { logger: pino({ level: 'silent' }), ask: () => new Promise((resolve) => (answer = resolve)), onPush: () => {}, notify: () => {} } as unknown as WorkerServices;
    const attached = tls.attach(worker, {} as Pipeline);
    const pending = runOnce(middleware, {});
    const ca = new LocalCa(tempDir());
    answer({ certificates: [{ id: 'shop.example.com', names: ['shop.example.com'], ...(await ca.issue(['shop.example.com'])) }], challenges: { version: 0, http01: {}, alpn: [] }, ticketKeys: '' });
    await attached;
    assert.equal((await pending).status, 308);
  });
});
