/**
 * The watchdog's way into a hung worker, from outside its process: nothing
 * runs in a worker waiting for a hang (issue 19: a watchdog thread cost each
 * worker ~14 MB). When the master misses a worker's heartbeats it sends
 * SIGUSR1; Node opens the inspector from a native signal thread, so a main
 * thread stuck in `while (true) {}` still answers (commands reach it as V8
 * interrupts). The master reads the inspector's URL from the worker's stderr
 * (worker-stderr.ts), pauses the main thread, and reads the JavaScript stack
 * and the requests in flight.
 *
 * Nothing stays open: the first command schedules `inspector.close()` on the
 * worker's own event loop, which runs once the loop is free again — should
 * the worker recover before the timeout — and after the master has hung up.
 * An inspector the master did not ask for (a SIGUSR1 sent to the worker or to
 * its process group, `--inspect` in NODE_OPTIONS) is closed the same way, with
 * a warning.
 */
import type { StallReport } from '../ipc.ts';
import type { Logger } from '../observe/log.ts';
import { InspectorConnection } from './inspector-connection.ts';

/** How long SIGUSR1 and the inspector have to answer before the report goes without a stack. */
const PROBE_TIMEOUT_MS = 3_000;
const MAX_FRAMES = 12;
/** Set by the worker (src/worker/main.ts): 'GET host/path' for each request in flight. */
const READ_INFLIGHT = `JSON.stringify(globalThis[Symbol.for('kirin.inflight')]?.() ?? [])`;
/** Runs when the worker's event loop turns again: after a hang, and after the master has hung up. */
const CLOSE_WHEN_FREE = `setImmediate(() => process.getBuiltinModule('node:inspector').close())`;

interface CallFrame {
  functionName: string;
  url: string;
  location: { scriptId: string; lineNumber: number; columnNumber: number };
}

export class WorkerInspector {
  readonly #openInspector: () => void;
  readonly #logger: Logger;
  #awaitingUrl: ((url: string) => void) | null = null;

  /** `openInspector` sends the worker SIGUSR1. */
  constructor(openInspector: () => void, logger: Logger) {
    this.#openInspector = openInspector;
    this.#logger = logger;
  }

  /** The worker's stderr announced an inspector. */
  announced(url: string): void {
    const awaiting = this.#awaitingUrl;
    this.#awaitingUrl = null;
    if (awaiting) return awaiting(url);
    this.#logger.warn("a worker opened Node's inspector without the watchdog asking (SIGUSR1 sent to it or to its process group, or --inspect in NODE_OPTIONS); closing it");
    InspectorConnection.open(url)
      .then(async (connection) => {
        await connection.call('Runtime.evaluate', { expression: CLOSE_WHEN_FREE }).catch(() => {});
        connection.close();
      })
      .catch(() => {
        // The worker is gone, or closed it already.
      });
  }

  /** Pauses the blocked worker and reads what it was doing; the lists are empty when it cannot be reached in time. */
  async report(blockedMs: number): Promise<StallReport> {
    let connection: InspectorConnection | null = null;
    let timer: NodeJS.Timeout | undefined;
    const probe = async () => {
      const url = await new Promise<string>((resolve) => {
        this.#awaitingUrl = resolve;
        this.#openInspector();
      });
      connection = await InspectorConnection.open(url);
      await connection.call('Runtime.evaluate', { expression: CLOSE_WHEN_FREE });
      return readStall(connection);
    };
    // A probe that fails, or answers too late, leaves the lists empty: the master still names the worker.
    const found = await Promise.race([probe().catch(() => null), new Promise<null>((resolve) => (timer = setTimeout(resolve, PROBE_TIMEOUT_MS, null)))]);
    clearTimeout(timer);
    this.#awaitingUrl = null;
    (connection as InspectorConnection | null)?.close();
    return { t: 'stall', blockedMs, requests: found?.requests ?? [], stack: found?.stack ?? [] };
  }
}

async function readStall(connection: InspectorConnection): Promise<Pick<StallReport, 'requests' | 'stack'>> {
  // Frames name their script by id; enabling the debugger announces every script with its URL.
  const scripts = new Map<string, string>();
  connection.on('Debugger.scriptParsed', (params) => scripts.set(params.scriptId as string, params.url as string));
  const paused = connection.next('Debugger.paused');
  await connection.call('Debugger.enable');
  await connection.call('Debugger.pause');
  const frames = (await paused).callFrames as CallFrame[];
  const where = (f: CallFrame) => (f.url || scripts.get(f.location.scriptId) || '<unknown>').replace(/^file:\/\//, '');
  const stack = frames.slice(0, MAX_FRAMES).map((f) => `${f.functionName || '<anonymous>'} (${where(f)}:${f.location.lineNumber + 1}:${f.location.columnNumber + 1})`);
  let requests: string[] = [];
  try {
    const evaluated = await connection.call('Runtime.evaluate', { expression: READ_INFLIGHT, returnByValue: true });
    requests = JSON.parse((evaluated.result as { value: string }).value) as string[];
  } catch {
    // The stack alone then.
  }
  return { requests, stack };
}
