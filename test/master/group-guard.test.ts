/**
 * The watcher that takes the services' process groups down when the master's
 * pipe closes (as it does when the master is SIGKILLed), with real processes.
 * test/e2e/process-supervision.test.ts SIGKILLs a real master.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { GroupGuard } from '../../src/master/group-guard.ts';
import { createLogger } from '../../src/observe/log.ts';
import { waitFor } from '../support/kirin.ts';
import { isAlive } from '../support/process.ts';

/** A process group like a service's: a shell (the leader, in its own session) with a child; resolves with both pids. */
async function group(script = 'sleep 60 & echo $!; wait'): Promise<{ leader: number; child: number }> {
  const shell = spawn('/bin/sh', ['-c', script], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  const child = await new Promise<number>((resolve) => shell.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim()))));
  return { leader: shell.pid!, child };
}

function guard(): GroupGuard {
  return new GroupGuard(createLogger({ level: 'error', role: 'master', pretty: false, destination: { write: () => {} } }));
}

describe('the group guard', () => {
  it('when the pipe closes, kills every group still listed, children included, and leaves the removed ones', async () => {
    const listed = await group();
    const removed = await group();
    const watcher = guard();
    watcher.add(listed.leader);
    watcher.add(removed.leader);
    watcher.remove(removed.leader);
    watcher.close();
    await waitFor(() => !isAlive(listed.leader) && !isAlive(listed.child), { what: 'the listed group to be gone' });
    assert.ok(isAlive(removed.leader) && isAlive(removed.child), 'a removed group is not touched');
    process.kill(-removed.leader, 'SIGKILL');
  });

  it('follows SIGTERM with SIGKILL for a group that ignores it', async () => {
    const stubborn = await group("trap '' TERM; sleep 60 & echo $!; while :; do wait; done");
    const watcher = guard();
    watcher.add(stubborn.leader);
    watcher.close();
    await waitFor(() => !isAlive(stubborn.leader) && !isAlive(stubborn.child), { what: 'the stubborn group to be killed', timeoutMs: 10_000 });
  });
});
