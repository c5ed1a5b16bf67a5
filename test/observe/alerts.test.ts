import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { NotifyPlan } from '../../src/config/plan.ts';
import { Alerter } from '../../src/observe/alerts/alerter.ts';
import { AlertThrottle } from '../../src/observe/alerts/throttle.ts';
import { IncidentWatcher, type Incident, type ObservedMaster } from '../../src/observe/incidents.ts';
import { createLogger } from '../../src/observe/log.ts';
import { startSmtpReceiver, startWebhookReceiver, type SmtpReceiver, type WebhookReceiver } from '../support/alert-receivers.ts';
import { waitFor } from '../support/kirin.ts';
import { FakeMaster } from './fake-master.ts';

function capture() {
  const lines: { level: string; msg: string }[] = [];
  const logger = createLogger({ level: 'debug', role: 'master', destination: { write: (line: string) => void lines.push(JSON.parse(line)) } });
  return { logger, lines };
}

function appError(signature: string, time: number, count = 1): Incident {
  return { kind: 'app-error', signature, title: `GET /x → Error: ${signature}`, detail: `Error: ${signature}\n    at handler (app.ts:1:1)\n\nRequest: GET http://a.test/x`, time, count };
}

function upstream(state: 'down' | 'up'): Incident {
  return { kind: state === 'down' ? 'upstream-down' : 'upstream-up', signature: 'upstream:r:u', title: `upstream u is ${state}`, detail: 'Route: r', time: Date.now(), state, count: 1 };
}

describe('alert throttle', () => {
  it('lets one alert per problem through per window and counts what it held back', () => {
    const t = new AlertThrottle({ windowMs: 1000, perHour: 100 });
    assert.deepEqual(t.admit('a', 0), { send: true, heldBack: 0, heldBackByHourlyLimit: 0 });
    assert.deepEqual(t.admit('a', 10, 1, 3), { send: false, retryAt: 1000 });
    assert.equal(t.admit('b', 20).send, true, 'another problem is not held back');
    assert.deepEqual(t.admit('a', 1000), { send: true, heldBack: 3, heldBackByHourlyLimit: 0 });
  });

  it('lets a down-and-back pair through, and no more, per window', () => {
    const t = new AlertThrottle({ windowMs: 1000 });
    assert.equal(t.admit('s', 0, 2).send, true);
    assert.equal(t.admit('s', 1, 2).send, true);
    assert.equal(t.admit('s', 2, 2).send, false);
  });

  it('caps all alerts together per hour and says so in the next one', () => {
    const t = new AlertThrottle({ windowMs: 1, perHour: 2 });
    assert.equal(t.admit('a', 0).send, true);
    assert.equal(t.admit('b', 0).send, true);
    assert.deepEqual(t.admit('c', 0), { send: false, retryAt: 3_600_000 });
    assert.deepEqual(t.admit('d', 3_600_000), { send: true, heldBack: 0, heldBackByHourlyLimit: 1 });
  });
});

describe('alerter, to a real SMTP server and a webhook', () => {
  let smtp: SmtpReceiver;
  let hook: WebhookReceiver;
  before(async () => {
    smtp = await startSmtpReceiver();
    hook = await startWebhookReceiver();
  });
  after(async () => {
    await smtp.close();
    await hook.close();
  });

  function alerter(options: { now?: () => number; windowMs?: number } = {}) {
    const plan: NotifyPlan = { email: { url: smtp.url, from: 'kirin@a.test', to: ['ops@a.test', 'dev@a.test'] }, webhook: hook.url };
    const { logger, lines } = capture();
    const a = new Alerter({ notify: () => plan, logger, throttle: new AlertThrottle({ windowMs: options.windowMs ?? 600_000 }), now: options.now });
    return { alerter: a, lines };
  }

  it('mails and posts an app error once, then the repeat with a count after the window', async () => {
    smtp.mails.length = 0;
    hook.bodies.length = 0;
    let now = 1_000_000;
    const { alerter: a, lines } = alerter({ now: () => now });
    a.handle(appError('boom', now));
    a.handle(appError('boom', now + 1));
    a.handle(appError('boom', now + 2, 4));
    const [mail] = await smtp.waitForMails(1);
    await hook.waitForPosts(1);
    assert.match(mail!.subject, /^\[Kirin [^\]]+\] Error 500: GET \/x → Error: boom$/);
    assert.deepEqual(mail!.to, ['ops@a.test', 'dev@a.test']);
    assert.equal(mail!.from, 'kirin@a.test');
    assert.match(mail!.text, /The app threw an error/);
    assert.match(mail!.text, /at handler \(app\.ts:1:1\)/);
    assert.match(mail!.text, /Request: GET http:\/\/a\.test\/x/);
    assert.equal(hook.bodies[0]!.kind, 'app-error');
    assert.equal(hook.bodies[0]!.text, mail!.subject);
    await waitFor(() => lines.filter((l) => l.msg.startsWith('alert sent')).length === 2, { what: 'two "alert sent" lines' });
    assert.ok(lines.some((l) => l.msg.includes('webhook http://127.0.0.1:') && !l.msg.includes('kirin-secret-path')), 'the webhook path (a secret for chat webhooks) stays out of the log');

    now += 600_000;
    a.handle(appError('boom', now));
    const mails = await smtp.waitForMails(2);
    assert.match(mails[1]!.text, /5 more like this since the last alert were not sent/);
    assert.equal(mails.length, 2);
    await a.close();
  });

  it('tells down and back, and after a flapping spell the state it settled in', async () => {
    smtp.mails.length = 0;
    hook.bodies.length = 0;
    const { alerter: a } = alerter({ windowMs: 300 });
    a.handle(upstream('up'));
    a.handle(upstream('down'));
    a.handle(upstream('up'));
    a.handle(upstream('down'));
    a.handle(upstream('up'));
    a.handle(upstream('down'));
    const posts = await hook.waitForPosts(3);
    assert.deepEqual(posts.map((p) => p.state), ['down', 'up', 'down'], 'a first "up" is not news; the last word is the settled state');
    assert.equal(posts[2]!.severity, 'error');
    assert.equal(posts[1]!.severity, 'resolved');
    assert.match(String(posts[2]!.text), /DOWN: upstream u is down/);
    await a.close();
  });

  it('alerts on a crash loop and a failed certificate from the master\'s events, and not on a single crash', async () => {
    hook.bodies.length = 0;
    const master = new FakeMaster();
    master.plan.notify = { email: null, webhook: hook.url };
    const { logger } = capture();
    const a = new Alerter({ notify: () => master.plan.notify, logger });
    const watcher = new IncidentWatcher(master as unknown as ObservedMaster);
    watcher.on((incident) => a.handle(incident));
    master.emit('worker-exit', { pid: 9, index: 1, generation: 1, startedAt: Date.now(), exitCode: 1, exitSignal: null, lastStall: null, bootError: null });
    master.emit('worker-restart', 'crash');
    master.emit('crash-loop', 10);
    master.emit('certificate-failed', { names: ['shop.test'], error: 'urn:ietf:params:acme:error:rateLimited', failures: 2, retryAt: 0 });
    await a.close(); // waits for the deliveries on their way
    const byKind = new Map(hook.bodies.map((p) => [p.kind, p]));
    assert.deepEqual([...byKind.keys()].sort(), ['certificate-failed', 'crash-loop']);
    assert.match(String(byKind.get('crash-loop')!.text), /Crash loop: workers are crash-looping: 10 crashes in a row/);
    assert.match(String(byKind.get('certificate-failed')!.detail), /rateLimited/);
  });

  it('sends nothing when notify has no channel', () => {
    const { logger } = capture();
    const a = new Alerter({ notify: () => ({ email: null, webhook: null }), logger });
    assert.equal(a.enabled, false);
    a.handle(appError('x', 0));
  });

  it('logs, and carries on, when a channel fails', async () => {
    const { logger, lines } = capture();
    const a = new Alerter({ notify: () => ({ email: null, webhook: 'http://127.0.0.1:1/unreachable' }), logger });
    a.handle(appError('y', Date.now()));
    await waitFor(() => lines.find((l) => l.msg.startsWith('alert NOT sent')), { what: 'a warning' });
    await a.close();
  });
});
