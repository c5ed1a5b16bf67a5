/**
 * The error log's JSON lines: the message comes right after level, time, pid
 * and role, before long fields such as a stack, so a fatal error is readable on
 * a terminal that shows the start of the line.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { createDeferredLogger, createLogger } from '../../src/observe/log.ts';
import { waitFor } from '../support/kirin.ts';

function capture(): { lines: string[]; logger: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  const logger = createLogger({ level: 'info', role: 'master', pretty: false, destination: { write: (line: string) => void lines.push(line) } });
  return { lines, logger };
}

function keys(line: string): string[] {
  return Object.keys(JSON.parse(line) as object);
}

describe('JSON log lines', () => {
  it('put msg before the fields of the call, the stack included', () => {
    const { lines, logger } = capture();
    logger.fatal({ stack: 'Error: broken\n    at app.ts:1:7' }, 'could not start: app.ts threw while loading: broken');
    assert.deepEqual(keys(lines[0]!), ['level', 'time', 'pid', 'role', 'msg', 'stack']);
    assert.match(lines[0]!, /^\{"level":"fatal","time":"[^"]+","pid":\d+,"role":"master","msg":"could not start: app\.ts threw while loading: broken","stack":/);
  });

  it('an Error logged as the object goes under err, after msg', () => {
    const { lines, logger } = capture();
    logger.error(new Error('boom'), 'the app threw an error; answered 500');
    assert.deepEqual(keys(lines[0]!), ['level', 'time', 'pid', 'role', 'msg', 'err']);
    assert.equal((JSON.parse(lines[0]!) as { err: { message: string } }).err.message, 'boom');
  });

  it("child loggers' fields come first; secrets are still redacted", () => {
    const { lines, logger } = capture();
    logger.child({ service: 'django' }).warn({ token: 'hunter2-hunter2', stream: 'stderr' }, 'a line');
    assert.deepEqual(keys(lines[0]!), ['level', 'time', 'pid', 'role', 'service', 'msg', 'token', 'stream']);
    assert.equal((JSON.parse(lines[0]!) as { token: string }).token, '[redacted]');
  });

  it('a message alone, and printf-style arguments, are logged as pino logs them', () => {
    const { lines, logger } = capture();
    logger.info('plain');
    logger.info({ port: 1 }, 'listening on %s', '127.0.0.1');
    assert.equal((JSON.parse(lines[0]!) as { msg: string }).msg, 'plain');
    assert.equal((JSON.parse(lines[1]!) as { msg: string }).msg, 'listening on 127.0.0.1');
  });
});

describe('a deferred logger (workers: pino loads with the first line written)', () => {
  function deferred(level: 'info' | 'warn') {
    const lines: string[] = [];
    let made = 0;
    const destination = { write: (line: string) => void lines.push(line) };
    const logger = createDeferredLogger(
      {
        level,
        role: 'worker',
        pretty: false,
        get destination() {
          made++;
          return destination;
        },
      },
      { worker: 2, generation: 3 },
    );
    return { lines, logger, made: () => made };
  }

  it('drops lines below its level without making the logger, and answers level questions itself', () => {
    const { lines, logger, made } = deferred('warn');
    logger.debug('worker ready');
    logger.info({ listeners: ['x'] }, 'worker ready');
    logger.flush();
    assert.equal(logger.level, 'warn');
    assert.equal(logger.isLevelEnabled('info'), false);
    assert.equal(logger.isLevelEnabled('error'), true);
    assert.deepEqual(lines, []);
    assert.equal(made(), 0, 'the logger was made for a line nobody prints');
  });

  it('writes from the first line at its level on, with its bindings, as createLogger(...).child(...) would', () => {
    const { lines, logger, made } = deferred('info');
    logger.debug('not this one');
    logger.error(new Error('boom'), 'the app threw an error; answered 500');
    logger.fatal('and this');
    assert.equal(made(), 1);
    assert.equal(lines.length, 2);
    assert.deepEqual(keys(lines[0]!), ['level', 'time', 'pid', 'role', 'worker', 'generation', 'msg', 'err']);
    assert.equal((JSON.parse(lines[1]!) as { level: string }).level, 'fatal');
    assert.equal(logger.child({ route: '/' }).isLevelEnabled('info'), true);
  });
});

describe('pretty lines on a stderr that is a full pipe', () => {
  it('wait for the reader instead of being dropped (a watched worker logging for a terminal, through the master)', async () => {
    const lines = 5_000;
    // Touching process.stderr makes a piped fd 2 non-blocking, as an app's console.error does in a worker.
    const script = `
      import { createLogger } from ${JSON.stringify(new URL('../../src/observe/log.ts', import.meta.url).href)};
      void process.stderr.isTTY;
      const logger = createLogger({ level: 'info', role: 'worker', pretty: true });
      process.stdout.write('writing\\n');
      for (let i = 0; i < ${lines}; i++) logger.info({ i }, 'line ' + 'x'.repeat(200));
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stderr!.pause();
    let stdout = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    let exitedYet = false;
    void exited.then(() => (exitedYet = true));
    await waitFor(() => stdout.includes('writing'), { what: 'the child to start writing' });
    // Dropping lines, it would exit with the pipe unread; waiting, it sleeps in futex(2) (Atomics.wait) between tries.
    await waitFor(() => exitedYet || readFileSync(`/proc/${child.pid}/syscall`, 'utf8').startsWith('202 '), { what: 'the child to end or to wait for its reader' });
    child.stderr!.resume();
    await exited;
    assert.equal(stderr.split('\n').filter((line) => line.includes(' line xxx')).length, lines);
  });
});
