/**
 * `rateLimit` through a real Kirin with two workers: the buckets live in the
 * master, so a client spread over both workers gets the limit once, not twice.
 */
import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { request } from '../support/http.ts';
import { startKirin, tempDir, waitFor, writeFiles, type KirinProcess } from '../support/kirin.ts';

const BURST = 4;

describe('rateLimit across workers', () => {
  let kirin: KirinProcess;
  const agents: Agent[] = [];

  before(async () => {
    const dir = tempDir();
    writeFiles(dir, {
      'app.ts': `export default { fetch: (request: Request) => new Response(new URL(request.url).pathname + ' ' + process.pid) };\n`,
      // One token a minute: nothing refills while the test runs, so the count is exact.
      'kirin.config.ts': `export default {
        sites: { '*': {
          '/limited': { app: './app.ts', rateLimit: { rate: '1/m', burst: ${BURST} } },
          '/whoami': { app: './app.ts' },
        } },
      };\n`,
    });
    kirin = await startKirin({ cwd: dir, args: ['serve', '--workers', '2', '--bind', '127.0.0.1:0', '--state-dir', `${dir}/state`] });
  });
  after(async () => {
    for (const agent of agents) agent.destroy();
    await kirin?.stop();
  });

  /** A keep-alive connection of its own, and the pid of the worker that accepted it. */
  async function connection(): Promise<{ agent: Agent; pid: string }> {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(agent);
    const res = await request(`${kirin.url}/whoami`, { agent });
    assert.equal(res.status, 200);
    return { agent, pid: res.body.split(' ')[1]! };
  }

  it(`admits ${BURST} requests in all, whichever worker they reach, then 429 with Retry-After`, async () => {
    // Open connections until two of them are served by different workers.
    const first = await connection();
    const second = await waitFor(
      async () => {
        const other = await connection();
        return other.pid !== first.pid ? other : null;
      },
      { timeoutMs: 15_000, intervalMs: 1, what: 'a connection to the second worker' },
    );

    const statuses: number[] = [];
    for (let i = 0; i < BURST - 1; i++) {
      const res = await request(`${kirin.url}/limited/a`, { agent: first.agent });
      assert.equal(res.body, `/limited/a ${first.pid}`);
      statuses.push(res.status);
    }
    // The other worker has seen none of these requests, yet knows only one token is left.
    const onSecond = [];
    for (let i = 0; i < 3; i++) onSecond.push(await request(`${kirin.url}/limited/b`, { agent: second.agent }));
    assert.equal(onSecond[0]!.body, `/limited/b ${second.pid}`);
    statuses.push(...onSecond.map((r) => r.status));
    assert.deepEqual(statuses, [200, 200, 200, 200, 429, 429]);

    const refused = onSecond[2]!;
    const retryAfter = Number(refused.headers['retry-after']);
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After: ${refused.headers['retry-after']}`);
    assert.match(refused.body, /^429 Too Many Requests/);

    // New connections, wherever the kernel puts them, are refused too.
    for (let i = 0; i < 4; i++) assert.equal((await request(`${kirin.url}/limited/c`, { agent: false })).status, 429);
    assert.equal((await request(`${kirin.url}/whoami`, { agent: false })).status, 200, 'other routes are not limited');
  });
});
