import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { normalizeConfig } from '../../src/config/normalize.ts';
import type { ServePlan } from '../../src/config/plan.ts';
import type { ChallengeResponder, ChallengeType } from '../../src/tls/acme.ts';
import { describeCertificate } from '../../src/tls/cert-info.ts';
import { LocalCa } from '../../src/tls/local-ca.ts';
import { CertificateManager, type AcmeOrderer } from '../../src/tls/manager.ts';
import type { WorkerCertificate } from '../../src/tls/messages.ts';
import { scheduleSettingsFromEnv, type ScheduleSettings } from '../../src/tls/schedule.ts';
import { CertificateStore } from '../../src/tls/store.ts';
import { tempDir, waitFor } from '../support/kirin.ts';

const silent = pino({ level: 'silent' });
const base = tempDir();
/** Folders under one temporary folder (removed with it when the tests end). */
const freshDir = () => mkdtempSync(join(base, 'm-'));
const fakeCaStorage = freshDir();

function planFor(storage: string, sites: Record<string, unknown>): ServePlan {
  const plan = normalizeConfig({ raw: { listen: { http: ['127.0.0.1:0'], https: ['127.0.0.1:0'] }, sites, tls: { storage } }, file: null, cwd: storage, env: {} });
  return plan;
}

/** An ACME CA stand-in: issues from a private local CA, or fails as told. */
class FakeCa implements AcmeOrderer {
  readonly calls: { names: string[]; challenges: ChallengeType[] }[] = [];
  failures: string[] = [];
  readonly #ca = new LocalCa(fakeCaStorage);
  async issue(names: string[], challenges: ChallengeType[]) {
    this.calls.push({ names, challenges });
    const failure = this.failures.shift();
    if (failure) throw new Error(failure);
    return this.#ca.issue(names);
  }
}

function setup(sites: Record<string, unknown>, schedule: Partial<ScheduleSettings> = {}, storage = freshDir()) {
  const pushes: { type: string; payload: WorkerCertificate & { id: string } }[] = [];
  const events: { event: string; payload: Record<string, unknown> }[] = [];
  const ca = new FakeCa();
  const store = new CertificateStore(storage);
  const responder: ChallengeResponder = { present: async () => {}, withdraw: () => {} };
  const manager = new CertificateManager({
    host: { logger: silent, push: (type, payload) => pushes.push({ type, payload: payload as WorkerCertificate }), emit: (event, payload) => events.push({ event, payload: payload as Record<string, unknown> }) },
    store,
    localCa: new LocalCa(storage),
    acme: () => ca,
    responder,
    schedule: { ...scheduleSettingsFromEnv({}), ...schedule },
  });
  return { manager, pushes, events, ca, store, storage, plan: planFor(storage, sites) };
}

const SITES = {
  'shop.example.com, www.shop.example.com': { '/': { respond: 'shop' } },
  'app.localhost': { '/': { respond: 'app' } },
};

describe('certificate manager', () => {
  it('makes local certificates while reconciling, and orders ACME ones only once started', async () => {
    const { manager, pushes, events, ca, plan } = setup(SITES);
    await manager.reconcile(plan);
    assert.deepEqual(pushes.map((p) => p.payload.id), ['app.localhost']);
    assert.equal(ca.calls.length, 0);
    assert.deepEqual(manager.snapshot().map((c) => c.names), [['app.localhost']]);
    assert.equal(manager.status().find((s) => s.source === 'acme')!.state, 'pending');
    manager.start();
    await waitFor(() => events.some((e) => e.event === 'certificate-issued' && (e.payload.names as string[])[0] === 'shop.example.com'));
    manager.stop();
    assert.deepEqual(ca.calls, [{ names: ['shop.example.com', 'www.shop.example.com'], challenges: ['http-01', 'tls-alpn-01'] }]);
    const shop = manager.snapshot().find((c) => c.id === 'shop.example.com')!;
    assert.deepEqual(describeCertificate(shop.certPem).names, ['shop.example.com', 'www.shop.example.com']);
    const status = manager.status().find((s) => s.source === 'acme')!;
    assert.equal(status.state, 'valid');
    assert.ok(status.renewAt! > Date.now() && status.renewAt! < status.notAfter);
  });

  it('retries failures with doubling delays, alternating the challenge type, and reports the CA’s error', async () => {
    const { manager, events, ca, plan } = setup({ 'shop.example.com': { '/': { respond: 'x' } } }, { firstRetryDelayMs: 40 });
    ca.failures = ['urn:ietf:params:acme:error:connection: connection refused by 203.0.113.9:80', 'urn:ietf:params:acme:error:rateLimited: too many certificates'];
    await manager.reconcile(plan);
    manager.start();
    await waitFor(() => events.some((e) => e.event === 'certificate-issued'), { timeoutMs: 5000 });
    manager.stop();
    const failed = events.filter((e) => e.event === 'certificate-failed');
    assert.equal(failed.length, 2);
    assert.deepEqual(failed.map((e) => e.payload.failures), [1, 2]);
    assert.match(String(failed[1]!.payload.error), /rateLimited: too many certificates/);
    assert.deepEqual(ca.calls.map((c) => c.challenges[0]), ['http-01', 'tls-alpn-01', 'http-01']);
    assert.equal(manager.status()[0]!.lastError, null, 'success clears the error');
  });

  it('renews when due, publishes the new certificate, and emits certificate-renewed', async () => {
    const { manager, pushes, events, plan } = setup({ 'shop.example.com': { '/': { respond: 'x' } } }, { renewAfterMs: 50 });
    await manager.reconcile(plan);
    manager.start();
    await waitFor(() => events.some((e) => e.event === 'certificate-renewed'), { timeoutMs: 5000 });
    manager.stop();
    const serials = new Set(pushes.filter((p) => p.type === 'tls-certificate').map((p) => describeCertificate(p.payload.certPem).serial));
    assert.ok(serials.size >= 2);
  });

  it('loads what the store has on a restart, without ordering again', async () => {
    const storage = freshDir();
    const first = setup({ 'shop.example.com': { '/': { respond: 'x' } } }, {}, storage);
    await first.manager.reconcile(first.plan);
    first.manager.start();
    await waitFor(() => first.events.some((e) => e.event === 'certificate-issued'));
    first.manager.stop();
    const second = setup({ 'shop.example.com': { '/': { respond: 'x' } } }, {}, storage);
    await second.manager.reconcile(second.plan);
    second.manager.start();
    assert.equal(second.manager.snapshot().length, 1);
    assert.equal(second.manager.status()[0]!.state, 'valid');
    second.manager.stop();
    assert.equal(second.ca.calls.length, 0);
  });

  it('leaves an order to the process that holds its lock, without counting a failure', async () => {
    const { manager, ca, plan, store } = setup({ 'shop.example.com': { '/': { respond: 'x' } } });
    await manager.reconcile(plan);
    const lock = store.lockFile('shop.example.com');
    mkdirSync(join(lock, '..'), { recursive: true });
    writeFileSync(lock, JSON.stringify({ pid: process.ppid, host: hostname(), since: Date.now() }));
    await manager.renew('shop.example.com');
    assert.equal(ca.calls.length, 0);
    const status = manager.status()[0]!;
    assert.equal(status.lastError, null);
    assert.ok(status.renewAt! > Date.now() + 20_000, 'looks again later');
  });

  it('renews on demand, and says why it cannot for unknown names and files', async () => {
    const dir = freshDir();
    const leaf = await new LocalCa(dir).issue(['files.example.com']);
    writeFileSync(join(dir, 'c.pem'), leaf.certPem);
    writeFileSync(join(dir, 'k.pem'), leaf.keyPem);
    const { manager, ca, plan } = setup({
      'shop.example.com': { '/': { respond: 'x' } },
      'files.example.com': { tls: { cert: join(dir, 'c.pem'), key: join(dir, 'k.pem') }, '/': { respond: 'x' } },
    });
    await manager.reconcile(plan);
    const status = await manager.renew('SHOP.example.com');
    assert.equal(status.state, 'valid');
    assert.equal(ca.calls.length, 1);
    await assert.rejects(manager.renew('nope.example.com'), /no TLS site has the name nope\.example\.com/);
    await assert.rejects(manager.renew('files.example.com'), /comes from files; replace them and run kirin reload/);
  });

  it('reads certificate files again on reload (how new files are taken in)', async () => {
    const dir = freshDir();
    const ca = new LocalCa(dir);
    const write = async () => {
      const leaf = await ca.issue(['files.example.com']);
      writeFileSync(join(dir, 'c.pem'), leaf.certPem);
      writeFileSync(join(dir, 'k.pem'), leaf.keyPem);
      return describeCertificate(leaf.certPem).serial;
    };
    await write();
    const sites = { 'files.example.com': { tls: { cert: join(dir, 'c.pem'), key: join(dir, 'k.pem') }, '/': { respond: 'x' } } };
    const { manager, pushes, plan, storage } = setup(sites);
    await manager.reconcile(plan);
    const second = await write();
    await manager.reconcile(planFor(storage, sites));
    assert.equal(describeCertificate(manager.snapshot()[0]!.certPem).serial, second);
    assert.equal(describeCertificate(pushes.at(-1)!.payload.certPem).serial, second);
  });

  it('reports certificate files that do not belong together', async () => {
    const dir = freshDir();
    const ca = new LocalCa(dir);
    const one = await ca.issue(['files.example.com']);
    const two = await ca.issue(['files.example.com']);
    writeFileSync(join(dir, 'c.pem'), one.certPem);
    writeFileSync(join(dir, 'k.pem'), two.keyPem);
    const { manager, events, plan } = setup({ 'files.example.com': { tls: { cert: join(dir, 'c.pem'), key: join(dir, 'k.pem') }, '/': { respond: 'x' } } });
    await manager.reconcile(plan);
    assert.equal(manager.snapshot().length, 0);
    assert.equal(manager.status()[0]!.state, 'failed');
    assert.match(manager.status()[0]!.lastError!, /k\.pem is not the private key of .*c\.pem/);
    assert.equal(events[0]!.event, 'certificate-failed');
  });

  it('skips wildcard names for ACME (they need DNS-01) and drops certificates of removed sites', async () => {
    const { manager, pushes, ca, storage } = setup({});
    await manager.reconcile(planFor(storage, { '*.example.com, example.com': { '/': { respond: 'x' } }, 'app.localhost': { '/': { respond: 'x' } } }));
    assert.deepEqual(manager.status().map((s) => s.names), [['example.com'], ['app.localhost']]);
    await manager.reconcile(planFor(storage, { 'example.com': { '/': { respond: 'x' } } }));
    assert.deepEqual(pushes.at(-1), { type: 'tls-certificate-removed', payload: { id: 'app.localhost' } });
    assert.equal(ca.calls.length, 0);
  });
});
