/**
 * Error log: pino, JSON lines when stderr is not a terminal (journald, files,
 * log shippers), short readable lines when it is. Secrets never go in: the
 * logger redacts fields whose names look like credentials.
 */
import { writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as Pino from 'pino';
import type { DestinationStream, pino } from 'pino';
import { LOG_LEVELS } from '../config/log-levels.ts';
import type { LogLevel } from '../config/types.ts';

export type Logger = pino.Logger;

/** pino is CommonJS: required when the first logger is made, so a process that never logs never holds it (~2 MB). */
const loadPino = (): typeof Pino.pino => (createRequire(import.meta.url)('pino') as typeof Pino).pino;

export interface LoggerOptions {
  level: LogLevel;
  /** 'master', 'worker', 'service:django' … */
  role: string;
  /** Format for people instead of JSON. Default: stderr is a TTY. */
  pretty?: boolean;
  /** Where lines go. Default: stderr. */
  destination?: DestinationStream;
}

const REDACT = ['*.password', '*.token', '*.secret', '*.authorization', '*.cookie', 'password', 'token', 'secret', 'authorization', 'cookie'];

export function createLogger(options: LoggerOptions): Logger {
  const pino = loadPino();
  const pretty = options.pretty ?? process.stderr.isTTY === true;
  const destination = options.destination ?? (pretty ? new PrettyStream(2) : pino.destination({ fd: 2, sync: true }));
  return pino(
    {
      level: options.level,
      base: { pid: process.pid, role: options.role },
      timestamp: pino.stdTimeFunctions.isoTime,
      messageKey: 'msg',
      redact: { paths: REDACT, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
      hooks: { logMethod: messageFirst },
    },
    destination,
  );
}

/**
 * pino writes `msg` after every field; a fatal error's `stack` would then hide
 * the message at the end of a screen-wide line. Passing the message as the
 * first field of the object puts it right after level, time, pid and role.
 * (pino has no option for the order; `hooks.logMethod` is its way to rewrite
 * a call.) Calls with printf-style arguments are left to pino's own format.
 */
function messageFirst(this: pino.Logger, args: Parameters<pino.LogFn>, method: pino.LogFn): void {
  const [first, message, ...rest] = args as unknown[];
  if (typeof message !== 'string' || rest.length > 0 || first === null || typeof first !== 'object') {
    method.apply(this, args);
    return;
  }
  // An Error logged as the object goes under `err`, as pino would put it.
  const fields = first instanceof Error ? { err: first } : first;
  method.call(this, { msg: message, ...fields });
}

const LEVEL_COLORS: Record<string, string> = { debug: '\x1b[90m', info: '\x1b[36m', warn: '\x1b[33m', error: '\x1b[31m', fatal: '\x1b[35m' };
const RESET = '\x1b[0m';

/** Turns pino's JSON lines into `12:00:01 INFO  master 1234  message key=value`. */
class PrettyStream implements DestinationStream {
  readonly #fd: number;
  constructor(fd: number) {
    this.#fd = fd;
  }
  write(line: string): void {
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line);
    } catch {
      writeAll(this.#fd, line);
      return;
    }
    const { time, level, pid, role, msg, err, stack, ...rest } = entry as Record<string, unknown>;
    const clock = typeof time === 'string' ? time.slice(11, 19) : '';
    const label = String(level ?? 'info');
    const color = LEVEL_COLORS[label] ?? '';
    const fields = Object.entries(rest)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    let out = `${clock} ${color}${label.toUpperCase().padEnd(5)}${RESET} ${role} ${pid}  ${msg ?? ''}${fields ? `  \x1b[90m${fields}${RESET}` : ''}\n`;
    const errorStack = (err as { stack?: string } | undefined)?.stack ?? (typeof stack === 'string' ? stack : undefined);
    if (errorStack) out += `${errorStack}\n`;
    writeAll(this.#fd, out);
  }
}

/** How long a write that found the descriptor full waits before it tries again (sonic-boom, behind pino's JSON lines, waits 100 ms). */
const FULL_RETRY_MS = 10;
const retryWait = new Int32Array(new SharedArrayBuffer(4));

/**
 * Writes all of `text` before it returns. A piped stderr can be non-blocking
 * (Node makes it so once anything touches process.stderr): a full pipe takes
 * part of a write or answers EAGAIN, and the rest is written once the reader
 * (the master, for a watched worker) has taken some, as pino's destination does.
 */
function writeAll(fd: number, text: string): void {
  let data = Buffer.from(text);
  while (data.length > 0) {
    try {
      data = data.subarray(writeSync(fd, data));
    } catch (error) {
      // A closed terminal or pipe must not take the process down.
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') return;
      Atomics.wait(retryWait, 0, 0, FULL_RETRY_MS);
    }
  }
}

/** pino's methods that write a line, ranked as LOG_LEVELS: one prints when its rank reaches the configured level's (trace never, fatal always). */
const WRITERS: Record<string, number> = { trace: -Infinity, debug: 0, info: 1, warn: 2, error: 3, fatal: Infinity };

/**
 * A logger that becomes `createLogger(options).child(bindings)` on the first
 * line it writes (or the first use a line is not known to be: child(), flush()
 * after a line …). Calls below the level are dropped without making it, so a
 * worker that logs nothing in a normal start — `debug` lines at `info` — never
 * loads pino (docs/benchmarks.md, memory part 3).
 */
export function createDeferredLogger(options: LoggerOptions, bindings: Record<string, unknown>): Logger {
  let real: Logger | null = null;
  const make = (): Logger => (real ??= createLogger(options).child(bindings));
  const threshold = LOG_LEVELS.indexOf(options.level);
  const ignore = (): void => {};
  const methods = new Map<string | symbol, unknown>();
  return new Proxy({} as Logger, {
    get(_target, key) {
      if (real === null && typeof key === 'string') {
        const rank = WRITERS[key];
        if (rank !== undefined && rank < threshold) return ignore;
        if (key === 'level') return options.level;
        if (key === 'flush') return ignore;
        if (key === 'isLevelEnabled') return (level: string) => (WRITERS[level] ?? -Infinity) >= threshold;
      }
      const logger = make();
      const value = Reflect.get(logger, key, logger) as unknown;
      if (typeof value !== 'function') return value;
      // Bound once per method: a logger called per request allocates nothing per call.
      let bound = methods.get(key);
      if (bound === undefined) methods.set(key, (bound = value.bind(logger)));
      return bound;
    },
  });
}
