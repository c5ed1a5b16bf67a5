/**
 * The spare worker of `kirin dev`: started once the current worker is ready,
 * adopted by the next restart when it fits exactly, killed when it does not.
 * A fake spawner records what would be started.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StandbySpawner } from '../../src/dev/standby.ts';
import type { SpawnRequest, WorkerChild, WorkerChildEvents } from '../../src/master/worker-handle.ts';
import type { OpenListener } from '../../src/master/listeners.ts';

interface FakeChild extends WorkerChild {
  events: WorkerChildEvents;
  request: SpawnRequest;
  killed: NodeJS.Signals | null;
}

function fakeSpawner() {
  const started: FakeChild[] = [];
  const spawn = (request: SpawnRequest, events: WorkerChildEvents): WorkerChild => {
    const child: FakeChild = { pid: 1000 + started.length, request, events, killed: null, send() {}, reportStall() {}, kill(signal) {
      child.killed = signal;
    } };
    started.push(child);
    return child;
  };
  return { started, spawn };
}

const listeners = [{ fd: 7 }] as unknown as OpenListener[];
const request = (generation: number, env: NodeJS.ProcessEnv = { A: '1' }): SpawnRequest => ({ generation, index: 1, listeners, env, watchdog: false });

function recorder() {
  const messages: string[] = [];
  const exits: (number | null)[] = [];
  const events: WorkerChildEvents = { message: (m) => messages.push(m.t), stall() {}, exit: (code) => exits.push(code) };
  return { events, messages, exits };
}

describe('dev standby spawner', () => {
  it('starts a spare for the next generation once the worker is ready, and the next restart adopts it', () => {
    const { started, spawn } = fakeSpawner();
    const standby = new StandbySpawner(spawn);
    const first = recorder();
    const child1 = standby.spawner(request(1), first.events) as FakeChild;
    assert.equal(started.length, 1);
    child1.events.message({ t: 'ready' });
    assert.deepEqual(first.messages, ['ready'], 'the master still hears it');
    assert.equal(started.length, 2, 'a spare was started');
    assert.equal(started[1]!.request.generation, 2);
    const second = recorder();
    const child2 = standby.spawner(request(2), second.events) as FakeChild;
    assert.equal(child2, started[1], 'the spare was adopted, nothing new started');
    child2.events.message({ t: 'ready' });
    child2.events.exit(0, null);
    assert.deepEqual(second.messages, ['ready']);
    assert.deepEqual(second.exits, [0]);
    assert.equal(started.length, 3, 'and the next spare is on its way');
    standby.close();
    assert.equal(started[2]!.killed, 'SIGKILL');
  });

  it('kills a spare that does not fit (an env file changed) and starts the worker as usual', () => {
    const { started, spawn } = fakeSpawner();
    const standby = new StandbySpawner(spawn);
    (standby.spawner(request(1), recorder().events) as FakeChild).events.message({ t: 'ready' });
    const spare = started[1]!;
    const child = standby.spawner(request(2, { A: '2' }), recorder().events);
    assert.equal(spare.killed, 'SIGKILL');
    assert.equal(child, started[2]);
    assert.deepEqual(started[2]!.request.env, { A: '2' });
  });

  it('forgets a spare that died before it was needed', () => {
    const { started, spawn } = fakeSpawner();
    const standby = new StandbySpawner(spawn);
    const master = recorder();
    (standby.spawner(request(1), master.events) as FakeChild).events.message({ t: 'ready' });
    started[1]!.events.exit(1, null);
    assert.deepEqual(master.exits, [], 'the master never knew it');
    const child = standby.spawner(request(2), recorder().events);
    assert.equal(child, started[2], 'a fresh worker');
  });
});
