/**
 * Alerts from a real Kirin to a real SMTP server and a webhook receiver on
 * loopback: a 500 with its stack and request (credentials removed), sent once per
 * error, and an upstream and a service going down and coming back.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { apiStatus, startWithAdmin, type AdminKirin } from '../support/admin.ts';
import { startSmtpReceiver, startWebhookReceiver, type SmtpReceiver, type WebhookReceiver } from '../support/alert-receivers.ts';
import { request } from '../support/http.ts';
import { tempDir, waitFor, writeFiles } from '../support/kirin.ts';

const APP = `function chargeCard(id: string): never {
  throw new Error('card ' + id + ' declined by the processor');
}
export default {
  fetch(request: Request) {
    const url = new URL(request.url);
    if (url.pathname === '/pay') chargeCard(url.searchParams.get('card') ?? '0');
    if (url.pathname === '/other') throw new TypeError('something else broke');
    return new Response('ok');
  },
};
`;

interface Status {
  errors: { kind: string; title: string; count: number }[];
  services: { name: string; pid: number | null; state: string }[];
}

describe('alerts by email and webhook', () => {
  let smtp: SmtpReceiver;
  let hook: WebhookReceiver;
  let upstream: Server;
  let upstreamHealthy = true;
  let k: AdminKirin;

  before(async () => {
    smtp = await startSmtpReceiver();
    hook = await startWebhookReceiver();
    upstream = createServer((req, res) => {
      if (req.url === '/health') res.writeHead(upstreamHealthy ? 200 : 503).end();
      else res.writeHead(200).end('from upstream');
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const upstreamUrl = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;
    const dir = tempDir();
    writeFiles(dir, {
      'app.ts': APP,
      'svc.mjs': `import { createServer } from 'node:http';\ncreateServer((req, res) => res.end('svc')).listen(Number(process.argv[2]), '127.0.0.1');\n`,
      'kirin.config.ts': `export default {
        admin: { listen: '127.0.0.1:0' },
        services: { search: { command: ${JSON.stringify(`'${process.execPath}' svc.mjs {port}`)} } },
        notify: {
          email: { url: '${smtp.url}', from: 'kirin@shop.test', to: ['ops@shop.test'] },
          webhook: '${hook.url}',
        },
        sites: { '*': {
          '/': { app: './app.ts' },
          // A generous timeout: a worker still busy booting on a loaded machine answers its timer late, which is not the upstream being down.
          '/api/': { proxy: { to: '${upstreamUrl}', health: { path: '/health', interval: '200ms', timeout: '5s' } } },
        } },
      };\n`,
    });
    k = await startWithAdmin(dir, 2);
  });
  after(async () => {
    await k?.kirin.stop();
    await smtp?.close();
    await hook?.close();
    upstream?.close();
    upstream?.closeAllConnections();
  });

  it('mails a 500 with the stack and the request, without credentials', async () => {
    const res = await request(`${k.kirin.url}/pay?card=4242&token=tok-secret-query`, {
      headers: { authorization: 'Bearer tok-secret-header', cookie: 'sessionid=tok-secret-cookie', 'user-agent': 'alert-test/1' },
      agent: false,
    });
    assert.equal(res.status, 500);
    assert.doesNotMatch(res.body, /declined|chargeCard/, 'the client never sees the stack');

    const [mail] = await smtp.waitForMails(1);
    assert.match(mail!.subject, /^\[Kirin [^\]]+\] Error 500: GET \/pay\?card=4242&token=\[removed\] → Error: card 4242 declined by the processor$/);
    assert.deepEqual(mail!.to, ['ops@shop.test']);
    assert.equal(mail!.from, 'kirin@shop.test');
    assert.match(mail!.text, /Error: card 4242 declined by the processor\n\s+at chargeCard \(.*app\.ts:2:\d+\)/);
    assert.match(mail!.text, /Request: GET http:\/\/127\.0\.0\.1:\d+\/pay\?card=4242&token=\[removed\]/);
    assert.match(mail!.text, /user-agent: alert-test\/1/);
    assert.match(mail!.text, /authorization: \[removed\]/);
    assert.match(mail!.text, /cookie: \[removed\]/);

    const [post] = await hook.waitForPosts(1);
    assert.equal(post!.kind, 'app-error');
    assert.equal(post!.text, mail!.subject);
    assert.match(String(post!.detail), /at chargeCard/);
    for (const text of [JSON.stringify(mail), JSON.stringify(post)]) assert.doesNotMatch(text, /tok-secret/);
  });

  it('sends the same error once, however often it happens, and a different error at once', async () => {
    for (const card of ['1111', '2222', '3333']) assert.equal((await request(`${k.kirin.url}/pay?card=${card}`, { agent: false })).status, 500);
    // Every occurrence reached the master (the dashboard counts them) …
    await waitFor(async () => (await apiStatus<Status>(k.admin)).errors.find((e) => e.kind === 'app-error' && e.title.includes('declined'))?.count === 4, { what: 'four occurrences folded together' });
    // … and a different error still gets through right away.
    assert.equal((await request(`${k.kirin.url}/other`, { agent: false })).status, 500);
    const mails = await smtp.waitForMails(2);
    assert.equal(mails.length, 2, 'the three repeats were not mailed');
    assert.match(mails[1]!.subject, /Error 500: GET \/other → TypeError: something else broke$/);
    assert.equal((await hook.waitForPosts(2)).length, 2);
  });

  it('tells when an upstream goes down and when it comes back', async () => {
    const before = smtp.mails.length;
    upstreamHealthy = false;
    const down = await waitFor(() => hook.bodies.find((b) => b.kind === 'upstream-down'), { what: 'an upstream-down webhook' });
    assert.match(String(down.text), /DOWN: upstream http:\/\/127\.0\.0\.1:\d+ is down \(sites\["\*"\]\["\/api\/"\]\)/);
    upstreamHealthy = true;
    const back = await waitFor(() => hook.bodies.find((b) => b.kind === 'upstream-up'), { what: 'an upstream-up webhook' });
    assert.equal(back.severity, 'resolved');
    const mails = await smtp.waitForMails(before + 2);
    assert.deepEqual(mails.slice(before).map((m) => m.subject.replace(/^\[Kirin [^\]]+\] /, '').split(':')[0]), ['DOWN', 'BACK']);
  });

  it('tells when a service goes down and when it runs again', async () => {
    const { services } = await apiStatus<Status>(k.admin);
    const search = services.find((svc) => svc.name === 'search');
    assert.ok(search?.pid && search.state === 'running');
    process.kill(search.pid, 'SIGKILL');
    const down = await waitFor(() => hook.bodies.find((b) => b.kind === 'service-down'), { what: 'a service-down webhook' });
    assert.match(String(down.text), /DOWN: service "search" exited \(signal SIGKILL\)/);
    const back = await waitFor(() => hook.bodies.find((b) => b.kind === 'service-up'), { what: 'a service-up webhook' });
    assert.match(String(back.text), /BACK: service "search" runs again/);
  });
});
