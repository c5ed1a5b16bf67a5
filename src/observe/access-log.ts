/**
 * The access log: one line per request. JSON lines when the destination is not
 * a terminal; `127.0.0.1 GET /path 200 13B 0.4ms` on a terminal.
 *
 * Lines are buffered (sonic-boom) and flushed at least every 250 ms, so logging
 * does not cost a write syscall per request. USR1 reopens the file (logrotate).
 */
import sonicBoom from 'sonic-boom';

// A CommonJS module: its class hangs off the default export.
const { SonicBoom } = sonicBoom;
type SonicBoom = InstanceType<typeof SonicBoom>;

export interface AccessEntry {
  client: string;
  method: string;
  host: string;
  /** Path and query as received. */
  path: string;
  status: number;
  bytes: number;
  durationMs: number;
  userAgent: string | undefined;
  site: string;
}

export class AccessLog {
  readonly #stream: SonicBoom;
  readonly #pretty: boolean;
  readonly #timer: NodeJS.Timeout;
  #lastMs = 0;
  #lastIso = '';

  /** `target` is '-' for stdout or a file path. */
  constructor(target: string, pretty?: boolean) {
    const toStdout = target === '-';
    this.#stream = toStdout ? new SonicBoom({ fd: 1, minLength: 4096 }) : new SonicBoom({ dest: target, minLength: 4096, mkdir: true, append: true });
    this.#pretty = pretty ?? (toStdout && process.stdout.isTTY === true);
    this.#timer = setInterval(() => this.flush(), 250);
    this.#timer.unref();
    // Writes are async; an EPIPE on stdout must not crash the worker.
    this.#stream.on('error', () => {});
  }

  record(entry: AccessEntry): void {
    this.#stream.write(this.#pretty ? this.#prettyLine(entry) : this.#jsonLine(entry));
  }

  #now(): string {
    const ms = Date.now();
    if (ms !== this.#lastMs) {
      this.#lastMs = ms;
      this.#lastIso = new Date(ms).toISOString();
    }
    return this.#lastIso;
  }

  #jsonLine(e: AccessEntry): string {
    return `{"time":"${this.#now()}","type":"access","client":"${e.client}","method":${quote(e.method)},"host":${quote(e.host)},"path":${quote(e.path)},"status":${e.status},"bytes":${e.bytes},"duration_ms":${Math.round(e.durationMs * 1000) / 1000},"site":${quote(e.site)}${e.userAgent === undefined ? '' : `,"ua":${quote(e.userAgent)}`}}\n`;
  }

  #prettyLine(e: AccessEntry): string {
    const color = e.status >= 500 ? '\x1b[31m' : e.status >= 400 ? '\x1b[33m' : '\x1b[32m';
    return `${this.#now().slice(11, 23)} ${e.client} ${e.method} ${e.host}${e.path} ${color}${e.status}\x1b[0m ${e.bytes}B ${e.durationMs.toFixed(1)}ms\n`;
  }

  flush(): void {
    try {
      this.#stream.flush();
    } catch {
      // Nothing buffered, or a write is in flight: the next tick flushes.
    }
  }

  reopen(): void {
    this.#stream.reopen();
  }

  close(): void {
    clearInterval(this.#timer);
    try {
      this.#stream.flushSync();
    } catch {
      // Closed stdout: nothing to save.
    }
  }
}

/** Characters that need escaping in a JSON string (and the non-ASCII ones a log reader may choke on). */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\u007f-\uffff]/;

/** A JSON string literal; plain text (almost every path, host and user agent) skips JSON.stringify. */
function quote(text: string): string {
  return NEEDS_ESCAPE.test(text) ? JSON.stringify(text) : `"${text}"`;
}
