import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { answerBatch, RATE_LIMIT_ASK, TokenBuckets } from '../../src/master/rate-limit.ts';
import { clientKey, rateLimit } from '../../src/middleware/rate-limit.ts';
import { RateLimitClient, type Ask } from '../../src/middleware/rate-limit-client.ts';
import type { Logger } from '../../src/observe/log.ts';
import type { CompileEnv } from '../../src/worker/context.ts';
import { fakeContext, runMiddleware } from './fake-context.ts';

function recordingLogger() {
  const lines: { level: string; msg: string }[] = [];
  const logger = {
    warn: (msg: string) => lines.push({ level: 'warn', msg }),
    info: (msg: string) => lines.push({ level: 'info', msg }),
  } as unknown as Logger;
  return { logger, lines };
}

/** An `ask` answered by real buckets in this process, counting the messages. */
function inProcessMaster(buckets = new TokenBuckets(), now = () => performance.now()) {
  const asked: unknown[] = [];
  const ask = (async (type: string, payload: unknown) => {
    assert.equal(type, RATE_LIMIT_ASK);
    asked.push(payload);
    return answerBatch(buckets, payload, now());
  }) as Ask;
  return { ask, asked, buckets };
}

describe('TokenBuckets (master)', () => {
  it('allows a burst, then says how long until the next token', () => {
    const buckets = new TokenBuckets();
    for (let i = 0; i < 3; i++) assert.equal(buckets.take('k', 2, 3, 1000), 0);
    assert.equal(buckets.take('k', 2, 3, 1000), 500, 'at 2/s the next token is 500 ms away');
    assert.equal(buckets.take('k', 2, 3, 1250), 250);
    assert.equal(buckets.take('k', 2, 3, 1500), 0, 'refilled');
    assert.equal(buckets.take('k', 2, 3, 1500), 500);
  });

  it('refills up to the burst, never beyond', () => {
    const buckets = new TokenBuckets();
    buckets.take('k', 10, 2, 0);
    buckets.take('k', 10, 2, 0);
    const admitted = [0, 0, 0].map(() => buckets.take('k', 10, 2, 60_000)).filter((w) => w === 0).length;
    assert.equal(admitted, 2);
  });

  it('handles slow rates (1 per minute)', () => {
    const buckets = new TokenBuckets();
    assert.equal(buckets.take('k', 1 / 60, 1, 0), 0);
    assert.equal(buckets.take('k', 1 / 60, 1, 0), 60_000);
  });

  it('keeps keys apart', () => {
    const buckets = new TokenBuckets();
    assert.equal(buckets.take('a', 1, 1, 0), 0);
    assert.ok(buckets.take('a', 1, 1, 0) > 0);
    assert.equal(buckets.take('b', 1, 1, 0), 0);
  });

  it('forgets buckets that have refilled, and only those', () => {
    const buckets = new TokenBuckets();
    buckets.take('idle', 1, 5, 0);
    buckets.take('busy', 1, 5, 0);
    for (let i = 0; i < 4; i++) buckets.take('busy', 1, 5, 9_000);
    buckets.sweep(10_000);
    assert.equal(buckets.size, 1, '"idle" was full again after 1 s; "busy" still owes tokens');
    assert.ok(buckets.take('busy', 1, 5, 10_000) === 0);
  });

  it('stays bounded under a flood of distinct keys, dropping the least recently used', () => {
    const buckets = new TokenBuckets(3);
    buckets.take('a', 1, 1, 0);
    buckets.take('b', 1, 1, 0);
    buckets.take('c', 1, 1, 0);
    assert.ok(buckets.take('a', 1, 1, 0) > 0, 'touching "a" makes "b" the oldest');
    buckets.take('d', 1, 1, 0);
    assert.equal(buckets.size, 3);
    assert.ok(buckets.take('a', 1, 1, 0) > 0, '"a" was kept');
    assert.equal(buckets.take('b', 1, 1, 0), 0, '"b" was evicted and starts afresh');
  });

  it('lets malformed batch entries through instead of failing the batch', () => {
    const buckets = new TokenBuckets();
    assert.deepEqual(answerBatch(buckets, [1, 1, 'k', 'x', 1, 'k', 0, 1, 'k', 1, 1, 'k'], 0), [0, 0, 0, 1000]);
    assert.deepEqual(answerBatch(buckets, 'nonsense', 0), []);
  });
});

describe('RateLimitClient (worker)', () => {
  it('sends every question of one event-loop turn in one message', async () => {
    const master = inProcessMaster();
    const client = new RateLimitClient(master.ask, recordingLogger().logger);
    const answers = await Promise.all([client.take('a', 1, 2), client.take('a', 1, 2), client.take('a', 1, 2), client.take('b', 1, 2)]);
    assert.equal(master.asked.length, 1);
    assert.deepEqual(answers.map((w) => w > 0), [false, false, true, false]);
  });

  it('remembers a refusal and answers it without asking again', async () => {
    const master = inProcessMaster();
    const client = new RateLimitClient(master.ask, recordingLogger().logger);
    assert.equal(await client.take('k', 1 / 60, 1), 0);
    const wait = await client.take('k', 1 / 60, 1);
    assert.ok(wait > 59_000);
    const asks = master.asked.length;
    const known = client.knownWait('k');
    assert.ok(known > 0 && known <= wait);
    assert.equal(master.asked.length, asks);
    assert.equal(client.knownWait('other'), 0);
  });

  it('forgets a remembered refusal once its time has passed', async () => {
    let now = 0;
    const master = inProcessMaster(new TokenBuckets(), () => now);
    const client = new RateLimitClient(master.ask, recordingLogger().logger, { now: () => now });
    await client.take('k', 1, 1);
    assert.equal(await client.take('k', 1, 1), 1000);
    now = 999;
    assert.equal(client.knownWait('k'), 1);
    now = 1000;
    assert.equal(client.knownWait('k'), 0);
    assert.equal(await client.take('k', 1, 1), 0);
  });

  it('fails open when the master does not answer, logs once, and stops asking for a while', async () => {
    let asks = 0;
    const silent = (() => {
      asks++;
      return new Promise(() => {});
    }) as Ask;
    const { logger, lines } = recordingLogger();
    const client = new RateLimitClient(silent, logger, { timeoutMs: 20, pauseMs: 60_000 });
    assert.deepEqual(await Promise.all([client.take('k', 1, 1), client.take('k', 1, 1)]), [0, 0]);
    assert.equal(await client.take('k', 1, 1), 0);
    assert.equal(asks, 1, 'during the pause requests go ahead without asking');
    assert.equal(lines.filter((l) => l.level === 'warn').length, 1);
    assert.match(lines[0]!.msg, /fail open/);
  });

  it('fails open when the master refuses the question, and says when limits apply again', async () => {
    let broken = true;
    const master = inProcessMaster();
    const flaky = ((type: string, payload: unknown) => (broken ? Promise.reject(new Error('the master does not answer "rate-limit"')) : master.ask(type, payload))) as Ask;
    const { logger, lines } = recordingLogger();
    const client = new RateLimitClient(flaky, logger, { pauseMs: 0 });
    assert.equal(await client.take('k', 1, 1), 0);
    assert.equal(await client.take('k', 1, 1), 0);
    broken = false;
    assert.equal(await client.take('k', 1, 1), 0);
    assert.ok((await client.take('k', 1, 1)) > 0);
    assert.deepEqual(
      lines.map((l) => l.level),
      ['warn', 'info'],
    );
  });
});

describe('rateLimit middleware', () => {
  const env = (ask: Ask) => ({ ask, logger: recordingLogger().logger, route: { at: 'sites["*"]["/api"]' } }) as unknown as CompileEnv;

  it('answers 429 with Retry-After in whole seconds, rounded up', async () => {
    const master = inProcessMaster();
    const limit = rateLimit({ perSecond: 0.4, burst: 2 }, env(master.ask));
    const statuses: number[] = [];
    let retryAfter: unknown;
    for (let i = 0; i < 3; i++) {
      const result = await runMiddleware(limit, fakeContext({ clientIp: '203.0.113.7' }));
      statuses.push(result.passed ? 200 : result.status);
      retryAfter ??= result.headers['retry-after'];
    }
    assert.deepEqual(statuses, [200, 200, 429]);
    assert.equal(retryAfter, '3', '2.5 s until the next token → 3');
    assert.equal((await runMiddleware(limit, fakeContext({ clientIp: '203.0.113.8' }))).passed, true, 'another client has its own bucket');
  });

  it('counts IPv6 clients per /64', async () => {
    const master = inProcessMaster();
    const limit = rateLimit({ perSecond: 1, burst: 1 }, env(master.ask));
    assert.equal((await runMiddleware(limit, fakeContext({ clientIp: '2001:db8:1:2::1' }))).passed, true);
    assert.equal((await runMiddleware(limit, fakeContext({ clientIp: '2001:db8:1:2:ffff::9' }))).status, 429);
    assert.equal((await runMiddleware(limit, fakeContext({ clientIp: '2001:db8:1:3::1' }))).passed, true);
  });

  it('keys clients the same however they are grouped', () => {
    assert.equal(clientKey('192.0.2.1'), '192.0.2.1');
    assert.equal(clientKey('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64');
    assert.equal(clientKey('2001:0db8:0001:0002::'), '2001:db8:1:2::/64');
  });
});
