/**
 * The client's rules between passes, with a dyndns2 stand-in and the real
 * state file: after 911 the next passes send nothing (the 30 minutes are not
 * over) until --force; an acceptance older than 30 days is sent again once;
 * a refusal is told once and holds until cleared.
 *
 * As in master.test.ts, this machine's eth0 holds no public IPv4, so the echo
 * services give the address.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EchoClient } from '../../src/ddns/addresses/echo.ts';
import type { DdnsPlan, Dyndns2Plan } from '../../src/ddns/plan.ts';
import { Dyndns2Provider } from '../../src/ddns/providers/dyndns2.ts';
import { DdnsState, REFRESH_AFTER_MS } from '../../src/ddns/state.ts';
import { DdnsUpdater } from '../../src/ddns/updater.ts';
import { createLogger } from '../../src/observe/log.ts';
import { tempDir } from '../support/kirin.ts';
import { startDyndns2, startEcho } from './support/stand-ins.ts';

describe('the update rules between passes', () => {
  let dyndns: Awaited<ReturnType<typeof startDyndns2>>;
  let echoes: Awaited<ReturnType<typeof startEcho>>[];
  const logger = createLogger({ level: 'error', role: 'test', destination: { write: () => {} } });
  before(async () => {
    dyndns = await startDyndns2({ username: 'u', password: 'p' });
    echoes = [await startEcho('81.2.69.160'), await startEcho('81.2.69.160')];
  });
  after(async () => {
    await Promise.all([dyndns?.close(), ...(echoes ?? []).map((e) => e.close())]);
  });

  function updater(stateDir: string, onStop?: () => void): DdnsUpdater {
    const provider: Dyndns2Plan = { kind: 'dyndns2', server: dyndns.url, username: 'u', password: { variable: 'P', at: 'ddns.password' } };
    const plan: DdnsPlan = {
      names: ['home.example.com'],
      ipv4: true,
      ipv6: false,
      intervalMs: 300_000,
      detect: { ipv4: echoes.map((e) => e.url), ipv6: [] },
      provider,
    };
    return new DdnsUpdater({ plan, provider: new Dyndns2Provider(provider, () => 'p'), state: new DdnsState(stateDir), logger, echo: new EchoClient({ timeoutMs: 2000 }), onStop });
  }

  it('after 911 sends nothing until the wait is over, unless forced', async () => {
    const u = updater(tempDir('kirin-ddns-911-'));
    dyndns.override.push({ body: '911' });
    const first = await u.check();
    assert.deepEqual(first.results.map((r) => [r.status, r.code]), [['retry', '911']]);
    const sent = dyndns.requests.length;
    const second = await u.check();
    assert.equal(second.skipped, 'backing off');
    assert.equal(dyndns.requests.length, sent);
    const forced = await u.check({ force: true });
    assert.deepEqual(forced.results.map((r) => r.status), ['updated']);
    u.stop();
  });

  it('sends an unchanged address again once its acceptance is 30 days old, and not before', async () => {
    const dir = tempDir('kirin-ddns-refresh-');
    const u = updater(dir);
    assert.equal((await u.check()).results[0]?.status, 'updated');
    assert.equal((await u.check()).skipped, 'unchanged');
    u.stop();
    const path = join(dir, 'ddns', 'state.json');
    const state = JSON.parse(readFileSync(path, 'utf8'));
    state.names['home.example.com'].records.A.sentAt = Date.now() - REFRESH_AFTER_MS - 60_000;
    writeFileSync(path, JSON.stringify(state));
    const again = updater(dir);
    const refreshed = await again.check();
    assert.deepEqual(refreshed.results.map((r) => [r.status, r.code]), [['updated', 'nochg']]);
    assert.equal((await again.check()).skipped, 'unchanged');
    again.stop();
  });

  it('a refusal is told once, holds across passes and a new client on the same state, and clears on request', async () => {
    const dir = tempDir('kirin-ddns-stop-');
    let told = 0;
    const u = updater(dir, () => told++);
    dyndns.override.push({ body: 'badauth' });
    assert.equal((await u.check()).results[0]?.code, 'badauth');
    assert.equal((await u.check()).skipped, 'stopped');
    assert.equal(told, 1);
    u.stop();
    const next = updater(dir);
    assert.equal((await next.check()).skipped, 'stopped');
    next.clearStop();
    assert.equal((await next.check()).results[0]?.status, 'updated');
    next.stop();
  });
});
