/**
 * The error log's JSON lines: the message comes right after level, time, pid
 * and role, before long fields such as a stack, so a fatal error is readable on
 * a terminal that shows the start of the line.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/observe/log.ts';

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
