/**
 * DDNS in a real Kirin master (the built CLI, as a user runs it), against a
 * dyndns2 stand-in and two echo services on loopback:
 *
 * - the first check sends, the state file (0600) remembers it, and a restart
 *   sends nothing while the address is unchanged;
 * - `kirin ddns status` and `kirin ddns update --once` (through the master,
 *   and alone for cron), with exit 1 and the provider's reason on failure;
 * - a provider that hangs never holds up serving;
 * - a refusal (abuse) stops updating, alerts, and shows on /metrics;
 * - no line of the log carries the password.
 *
 * The machine's own IPv4 (this project's machines have a non-public address on
 * eth0) makes the echo services the source; IPv6 is off here and covered by
 * the namespace tests.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { metric, apiStatus } from '../support/admin.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/alert-receivers.ts';
import { request } from '../support/http.ts';
import { KIRIN_BIN, startKirin, tempDir, waitFor, type KirinProcess } from '../support/kirin.ts';
import { startDyndns2, startEcho } from './support/stand-ins.ts';

const execFileAsync = promisify(execFile);
const PASSWORD = 'dyn-pass-7f3a9c2e5b1d';
const NAME = 'www.home.example';

async function kirin(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [KIRIN_BIN, ...args], { cwd });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('ddns in the master', () => {
  const dir = tempDir('kirin-ddns-');
  let dyndns: Awaited<ReturnType<typeof startDyndns2>>;
  let echoes: Awaited<ReturnType<typeof startEcho>>[];
  let webhook: WebhookReceiver;
  let server: KirinProcess | null = null;
  const logs: string[] = [];

  before(async () => {
    dyndns = await startDyndns2({ username: 'kirin@example.com', password: PASSWORD });
    echoes = [await startEcho('81.2.69.160'), await startEcho('81.2.69.160')];
    webhook = await startWebhookReceiver();
    writeFileSync(join(dir, '.env'), `DDNS_PASSWORD=${PASSWORD}\n`, { mode: 0o600 });
    writeFileSync(
      join(dir, 'kirin.config.json'),
      JSON.stringify({
        workers: 1,
        listen: { http: ['127.0.0.1:0'] },
        stateDir: join(dir, 'state'),
        envFiles: ['.env'],
        admin: { listen: '127.0.0.1:0' },
        notify: { webhook: webhook.url },
        sites: { [NAME]: { '/': { respond: 'home' } } },
        ddns: { provider: 'dyndns2', server: dyndns.url, username: 'kirin@example.com', password: '$DDNS_PASSWORD', ipv6: false, detect: { ipv4: echoes.map((e) => e.url) } },
      }),
    );
  });

  after(async () => {
    if (server) logs.push(server.output());
    await server?.stop();
    for (const text of logs) assert.ok(!text.includes(PASSWORD) && !text.includes(Buffer.from(`kirin@example.com:${PASSWORD}`).toString('base64')), 'no log line carries the password');
    await Promise.all([dyndns?.close(), webhook?.close(), ...(echoes ?? []).map((e) => e.close())]);
  });

  async function start(): Promise<KirinProcess> {
    server = await startKirin({ cwd: dir, args: ['serve'] });
    return server;
  }
  async function stop(): Promise<void> {
    logs.push(server!.output());
    await server!.stop();
    server = null;
  }
  const adminUrl = async (k: KirinProcess) => (await k.waitForLine((l) => typeof l.admin === 'string', 10_000, 'the admin listener line')).admin as string;

  it('sends the address once, keeps it in the state file, and sends nothing after a restart', async () => {
    let k = await start();
    await k.waitForLine((l) => l.msg === `ddns: ${NAME}: ${dyndns.url.replace('http://', '')} updated it to 81.2.69.160`, 20_000, 'the update line');
    assert.equal(dyndns.requests.length, 1);
    assert.equal(dyndns.records.get(NAME), '81.2.69.160');
    const statePath = join(dir, 'state', 'ddns', 'state.json');
    assert.equal(statSync(statePath).mode & 0o777, 0o600);

    await stop();
    k = await start();
    // A pass through the master: it shares the start's check or runs one; either way nothing may be sent.
    const run = await kirin(['ddns', 'update', '--once'], dir);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /IPv4: 81\.2\.69\.160 \(from echo services/);
    assert.match(run.stdout, /nothing sent: the addresses are unchanged/);
    assert.equal(dyndns.requests.length, 1, 'no update after the restart');
    assert.ok(k.lines.some((l) => l.msg === 'ddns: public IPv4 address 81.2.69.160 (from echo services ' + echoes.map((e) => e.url.replace('http://', '')).join(', ') + ')'));
  });

  it('kirin ddns status shows the address sent and the provider answer', async () => {
    const status = await kirin(['ddns', 'status'], dir);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /provider: dyndns2 \(127\.0\.0\.1:\d+\); checking every 5 min/);
    assert.match(status.stdout, new RegExp(`${NAME.replace(/\./g, '\\.')}\\s+81\\.2\\.69\\.160\\s+-\\s+updated \\(good\\)`));
  });

  it('sends a changed address on kirin ddns update --once, and serves while the provider hangs', async () => {
    for (const e of echoes) e.set('81.2.69.161');
    const changed = await kirin(['ddns', 'update', '--once'], dir);
    assert.equal(changed.code, 0, changed.stderr);
    assert.match(changed.stdout, new RegExp(`${NAME}: updated \\(good\\)`));
    assert.equal(dyndns.records.get(NAME), '81.2.69.161');

    for (const e of echoes) e.set('81.2.69.162');
    dyndns.override.push('hang');
    const pending = kirin(['ddns', 'update', '--once'], dir);
    await waitFor(() => dyndns.requests.length === 3, { what: 'the hanging update request' });
    // The master and its worker serve while the provider does not answer.
    const res = await request(`${server!.url}/`, { headers: { host: NAME } });
    assert.equal(res.status, 200);
    assert.equal(res.body, 'home');
    const timedOut = await pending;
    assert.equal(timedOut.code, 1);
    assert.match(timedOut.stderr, new RegExp(`${NAME}: .* did not answer within 15 s`));
  });

  it('stops on "abuse": exit 1 with the reason, an alert, the metrics; nothing more is sent until a reload', async () => {
    const k = server!;
    const admin = await adminUrl(k);
    // Past the backoff of the timeout above: --force sends now.
    dyndns.override.push({ body: 'abuse' });
    const refused = await kirin(['ddns', 'update', '--once', '--force'], dir);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /answered "abuse": the account or name is blocked for abuse/);
    const [alert] = await webhook.waitForPosts(1);
    assert.equal(alert!.kind, 'ddns-stopped');
    assert.match(String(alert!.title), /DDNS updates for www\.home\.example stopped: dyndns2 answered abuse/);
    assert.equal(await metric(admin, 'kirin_ddns_failures_total', { provider: 'dyndns2', code: 'abuse' }), 1);
    assert.equal(await metric(admin, 'kirin_ddns_failures_total', { provider: 'dyndns2', code: 'timeout' }), 1);
    assert.equal(await metric(admin, 'kirin_ddns_stopped', { provider: 'dyndns2' }), 1);
    assert.ok((await metric(admin, 'kirin_ddns_last_success_timestamp_seconds', { name: NAME, provider: 'dyndns2' }))! > 0);
    const dashboard = await apiStatus<{ ddns: { stopped: { code: string } | null; names: { name: string }[] } }>(admin);
    assert.equal(dashboard.ddns.stopped?.code, 'abuse');

    const sent = dyndns.requests.length;
    const held = await kirin(['ddns', 'update', '--once'], dir);
    assert.match(held.stdout, /nothing sent \(stopped\)/);
    assert.equal(dyndns.requests.length, sent, 'no request after the refusal');
    const status = await kirin(['ddns', 'status'], dir);
    assert.match(status.stdout, /STOPPED since .*blocked for abuse/);
  });

  it('kirin ddns update --once without a running Kirin: the same client, the same state file', async () => {
    await stop();
    // The master's start cleared the stop; this process starts from the state file, where the stop was kept.
    const held = await kirin(['ddns', 'update', '--once'], dir);
    assert.equal(held.code, 1);
    assert.match(held.stderr, /updates stopped on .* because .*abuse/);
    const forced = await kirin(['ddns', 'update', '--once', '--force'], dir);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stdout, new RegExp(`${NAME}: updated \\(good\\)`));
    assert.equal(dyndns.records.get(NAME), '81.2.69.162');
    const status = await kirin(['ddns', 'status'], dir);
    assert.match(status.stdout, /Kirin is not running: from the state file/);
    assert.match(status.stdout, /81\.2\.69\.162\s+-\s+updated \(good\)/);
  });
});
