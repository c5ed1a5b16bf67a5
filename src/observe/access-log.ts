/**
 * The access log: one line per request. JSON lines when the destination is not
 * a terminal; `127.0.0.1 GET /path 200 13B 0.4ms` on a terminal.
 *
 * Lines are buffered (line-writer.ts) and written at least every 250 ms, so
 * logging costs a string append per request, not a write. USR1 reopens the file
 * (logrotate).
 */
import { LineWriter } from './line-writer.ts';

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
  readonly #out: LineWriter;
  readonly #pretty: boolean;
  readonly #timer: NodeJS.Timeout;
  #lastMs = 0;
  #lastIso = '';

  /** `target` is '-' for stdout or a file path. */
  constructor(target: string, pretty?: boolean) {
    const toStdout = target === '-';
    this.#out = new LineWriter(toStdout ? 1 : target);
    this.#pretty = pretty ?? (toStdout && process.stdout.isTTY === true);
    this.#timer = setInterval(() => this.flush(), 250);
    this.#timer.unref();
  }

  record(entry: AccessEntry): void {
    this.#out.write(this.#pretty ? this.#prettyLine(entry) : this.#jsonLine(entry));
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
    return `{"time":"${this.#now()}","type":"access","client":"${e.client}","method":${quote(e.method)},"host":${quote(e.host)},"path":${quote(e.path)},"status":${e.status},"bytes":${e.bytes},"duration_ms":${millis(e.durationMs)},"site":${quote(e.site)}${e.userAgent === undefined ? '' : `,"ua":${quote(e.userAgent)}`}}\n`;
  }

  #prettyLine(e: AccessEntry): string {
    const color = e.status >= 500 ? '\x1b[31m' : e.status >= 400 ? '\x1b[33m' : '\x1b[32m';
    return `${this.#now().slice(11, 23)} ${e.client} ${e.method} ${e.host}${e.path} ${color}${e.status}\x1b[0m ${e.bytes}B ${e.durationMs.toFixed(1)}ms\n`;
  }

  flush(): void {
    this.#out.flush();
  }

  reopen(): void {
    this.#out.reopen();
  }

  close(): void {
    clearInterval(this.#timer);
    this.#out.close();
  }
}

/** Characters that need escaping in a JSON string (and the non-ASCII ones a log reader may choke on). */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\u007f-\uffff]/;

/** A JSON string literal; plain text (almost every path, host and user agent) skips JSON.stringify. */
function quote(text: string): string {
  return NEEDS_ESCAPE.test(text) ? JSON.stringify(text) : `"${text}"`;
}

/** Milliseconds with three decimals, from integers: formatting a double costs more than the rest of the line. */
function millis(durationMs: number): string {
  const micros = Math.round(durationMs * 1000);
  const fraction = micros % 1000;
  return `${(micros - fraction) / 1000}${fraction < 10 ? '.00' : fraction < 100 ? '.0' : '.'}${fraction}`;
}
