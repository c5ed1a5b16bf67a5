/**
 * A worker process started ahead of the next restart: it has loaded Kirin's
 * worker modules and waits for its `init` (the plan) — what a restart would
 * otherwise spend first (Node's start-up and ~150 ms of imports) is done
 * before the save. Only the app is imported after it, in a fresh process, so
 * nothing of the old code's module cache survives.
 *
 * A spare fits one spawn request exactly (same generation number, position,
 * listening sockets, environment and watchdog — a changed env file makes it unfit); an
 * unfit spare is killed and the worker started as usual. Idle, a spare runs
 * no timer; it leaves by itself when the master does (its IPC channel closes).
 */
import type { SpawnRequest, WorkerChild, WorkerChildEvents, WorkerSpawner } from '../master/worker-handle.ts';

/** What makes a spare fit a request: the new process sees exactly these. */
function fitKey(request: SpawnRequest): string {
  return JSON.stringify([request.generation, request.index, request.listeners.map((l) => l.fd), request.env, request.watchdog]);
}

interface Spare {
  key: string;
  child: WorkerChild;
  /** The events of whoever adopts it; until then nothing is expected but an early exit. */
  adopt(events: WorkerChildEvents): void;
}

export class StandbySpawner {
  readonly #spawn: WorkerSpawner;
  #spare: Spare | null = null;
  #closed = false;

  constructor(spawn: WorkerSpawner) {
    this.#spawn = spawn;
  }

  /** The spawner the master uses. */
  readonly spawner: WorkerSpawner = (request, events) => {
    // The next restart's spare, once this worker is up (not competing with its start-up for the CPU).
    const next: SpawnRequest = { ...request, generation: request.generation + 1 };
    const watched: WorkerChildEvents = {
      ...events,
      message: (message) => {
        if (message.t === 'ready') this.#prepare(next);
        events.message(message);
      },
    };
    const spare = this.#spare;
    this.#spare = null;
    if (spare !== null && spare.key === fitKey(request)) {
      spare.adopt(watched);
      return spare.child;
    }
    spare?.child.kill('SIGKILL');
    return this.#spawn(request, watched);
  };

  close(): void {
    this.#closed = true;
    this.#spare?.child.kill('SIGKILL');
    this.#spare = null;
  }

  #prepare(request: SpawnRequest): void {
    if (this.#closed || this.#spare !== null) return;
    let adopted: WorkerChildEvents | null = null;
    const child = this.#spawn(request, {
      message: (message) => adopted?.message(message),
      stall: (report) => adopted?.stall(report),
      exit: (code, signal) => {
        if (adopted) adopted.exit(code, signal);
        else if (this.#spare?.child === child) this.#spare = null;
      },
    });
    this.#spare = {
      key: fitKey(request),
      child,
      adopt: (events) => {
        adopted = events;
      },
    };
  }
}
