/**
 * The watchdog's way into a hung worker, from outside its process: nothing
 * runs in a worker waiting for a hang (issue 19: a watchdog thread cost each
 * worker ~14 MB). When the master misses a worker's heartbeats it sends
 * SIGUSR1; Node opens the inspector from a native signal thread, so a main
 * thread stuck in `while (true) {}` still answers (commands reach it as V8
 * interrupts). The master reads the inspector's URL from the worker's stderr
 * (worker-stderr.ts) and sends one command: code that runs on top of the
 * blocked JavaScript, as an interrupt, and returns its stack (`new
 * Error().stack`: the stuck frames are right below) and the requests in
 * flight. No debugger is enabled and nothing is paused: Debugger.enable would
 * send the master every script the worker has loaded (a few MB of the
 * master's heap for nothing but the URLs the stack already names).
 *
 * Nothing stays open: that command also has the worker close its inspector a
 * second after the master hung up, on its own event loop — so once it is free
 * again, should it recover before the timeout. An inspector the master did not
 * ask for (a SIGUSR1 sent to the worker or to its process group, `--inspect`
 * in NODE_OPTIONS) is closed the same way, with a warning.
 */
import type { StallReport } from '../ipc.ts';
import type { Logger } from '../observe/log.ts';
import { InspectorConnection } from './inspector-connection.ts';

/** How long SIGUSR1 and the inspector have to answer before the report goes without a stack. */
const PROBE_TIMEOUT_MS = 3_000;
/** A URL this long after the master's SIGUSR1 is its late answer, not a stranger's inspector. */
const LATE_ANSWER_MS = 60_000;
/** An inspector still open answers a loopback handshake at once; its port may serve something else by now. */
const STILL_OPEN_TIMEOUT_MS = 1_000;
const MAX_FRAMES = 12;
/**
 * Closes the worker's inspector from its own event loop (so after a hang),
 * and a second after the master's last command: Node 24 crashes (SIGSEGV)
 * when inspector.close() runs while the session that asked for it is still
 * ending — 3 of 4 processes did within 25 open-and-close rounds when it ran
 * from an immediate.
 */
const CLOSE_SOON = `void setTimeout(() => process.getBuiltinModule('node:inspector').close(), 1000).unref()`;
/**
 * Run in the worker on top of whatever blocks it. A block, so that its names
 * stay its own; its value is the last statement's. The requests come from the
 * worker (src/worker/main.ts): 'GET host/path' for each request in flight.
 */
const READ_STALL = `{
  const limit = Error.stackTraceLimit;
  let stack = '';
  let requests = [];
  try {
    Error.stackTraceLimit = ${MAX_FRAMES + 1};
    stack = String(new Error().stack);
  } catch {
  } finally {
    Error.stackTraceLimit = limit;
  }
  try {
    requests = globalThis[Symbol.for('kirin.inflight')]?.() ?? [];
  } catch {}
  ${CLOSE_SOON};
  JSON.stringify({ stack, requests });
}`;

export class WorkerInspector {
  readonly #openInspector: () => void;
  readonly #logger: Logger;
  #awaitingUrl: ((url: string) => void) | null = null;
  /** The last URL the worker announced: still open when the worker hangs again within a second of recovering. */
  #lastUrl: string | null = null;
  /** When the master last sent SIGUSR1 and saw no URL for it yet (the worker may announce it after the probe gave up). */
  #askedAt: number | null = null;

  /** `openInspector` sends the worker SIGUSR1. */
  constructor(openInspector: () => void, logger: Logger) {
    this.#openInspector = openInspector;
    this.#logger = logger;
  }

  /** The worker's stderr announced an inspector. */
  announced(url: string): void {
    this.#lastUrl = url;
    const awaiting = this.#awaitingUrl;
    const asked = this.#askedAt !== null && Date.now() - this.#askedAt < LATE_ANSWER_MS;
    this.#awaitingUrl = null;
    this.#askedAt = null;
    if (awaiting) return awaiting(url);
    if (asked) {
      this.#logger.debug("a worker's inspector opened after the watchdog stopped waiting for it; closing it");
      return void closeSoon(url);
    }
    this.#logger.warn("a worker opened Node's inspector without the watchdog asking (SIGUSR1 sent to it or to its process group, or --inspect in NODE_OPTIONS); closing it");
    void closeSoon(url);
  }

  /** Reads what the blocked worker is doing, without pausing it; the lists are empty when it cannot be reached in time. */
  async report(blockedMs: number): Promise<StallReport> {
    let url: string | null = null;
    const probe = async () => {
      const stillOpen = this.#lastUrl === null ? null : await InspectorConnection.open(this.#lastUrl, STILL_OPEN_TIMEOUT_MS).catch(() => null);
      url = stillOpen ? this.#lastUrl! : await new Promise<string>((resolve) => {
        this.#awaitingUrl = resolve;
        this.#askedAt = Date.now();
        this.#openInspector();
      });
      const connection = stillOpen ?? (await InspectorConnection.open(url, PROBE_TIMEOUT_MS));
      try {
        const evaluated = await connection.call('Runtime.evaluate', { expression: READ_STALL, returnByValue: true });
        const { stack, requests } = JSON.parse((evaluated.result as { value: string }).value) as { stack: string; requests: string[] };
        return { stack: framesOf(stack), requests };
      } finally {
        connection.close();
      }
    };
    const found = await withDeadline(probe());
    this.#awaitingUrl = null;
    // Too late or failed half-way: the inspector may be open with no close scheduled.
    if (found === null && url !== null) void closeSoon(url);
    return { t: 'stall', blockedMs, requests: found?.requests ?? [], stack: found?.stack ?? [] };
  }
}

/** Connects once more only to schedule the inspector's close; gives up silently (a worker gone, or blocked outside JavaScript). */
async function closeSoon(url: string): Promise<void> {
  let connection: InspectorConnection | null = null;
  await withDeadline(
    (async () => {
      connection = await InspectorConnection.open(url, PROBE_TIMEOUT_MS);
      await connection.call('Runtime.evaluate', { expression: CLOSE_SOON });
    })(),
  );
  (connection as InspectorConnection | null)?.close();
}

/** The work's value, or null when it fails or takes longer than PROBE_TIMEOUT_MS. */
async function withDeadline<T>(work: Promise<T>): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<null>((resolve) => (timer = setTimeout(resolve, PROBE_TIMEOUT_MS, null)));
  try {
    return await Promise.race([work.catch(() => null), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The frames of `new Error().stack` as the log shows them, without the first
 * (the master's own command): "renderReport (/srv/app/report.ts:41:11)".
 */
function framesOf(stack: string): string[] {
  return stack
    .split('\n')
    .filter((line) => line.startsWith('    at '))
    .slice(1, MAX_FRAMES + 1)
    .map((line) => line.slice('    at '.length).replaceAll('file://', ''));
}
