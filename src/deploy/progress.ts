/**
 * What a deploy shows while it works. On a terminal: one live line with the
 * steps in flight, their host and elapsed time, and finished steps above it.
 * In CI or a pipe: plain lines, one when a step starts and one when it ends.
 * Remote output always comes prefixed by its host.
 */
import type { Writable } from 'node:stream';

export interface StepHandle {
  /** Ends the step with a short result ("3 files, 12 kB"). */
  done(detail?: string): void;
  fail(reason: string): void;
}

interface Running {
  host: string | null;
  name: string;
  startedAt: number;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export class Progress {
  readonly #out: Writable;
  readonly #live: boolean;
  readonly #running = new Set<Running>();
  #timer: NodeJS.Timeout | null = null;
  #frame = 0;
  #liveShown = false;

  readonly #verbose: boolean;

  constructor(out: Writable & { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env, options: { verbose?: boolean } = {}) {
    this.#out = out;
    this.#live = out.isTTY === true && !env.CI && env.TERM !== 'dumb';
    this.#verbose = options.verbose === true;
  }

  /** With --verbose: how long one remote command or local piece of work took (where a slow deploy spends its time). */
  timing(host: string | null, what: string, ms: number): void {
    if (this.#verbose) this.line(`${prefix(host)}· ${what} (${(ms / 1000).toFixed(2)} s)`);
  }

  step(host: string | null, name: string): StepHandle {
    const running: Running = { host, name, startedAt: Date.now() };
    this.#running.add(running);
    if (this.#live) this.#startTicker();
    else this.line(`${prefix(host)}${name} …`);
    let ended = false;
    const end = (mark: string, text: string) => {
      if (ended) return;
      ended = true;
      this.#running.delete(running);
      this.line(`${this.#live ? `${mark} ` : ''}${prefix(host)}${name}${text} (${seconds(Date.now() - running.startedAt)})`);
      if (this.#running.size === 0) this.#stopTicker();
    };
    return {
      done: (detail) => end('✓', detail ? `: ${detail}` : ': done'),
      fail: (reason) => end('✗', `: failed: ${reason}`),
    };
  }

  /** A line of a remote command's output. */
  remote(host: string, line: string, _stream: 'stdout' | 'stderr' = 'stdout'): void {
    this.line(`${prefix(host)}${line}`);
  }

  /** A line of our own. */
  line(text: string): void {
    this.#clearLive();
    this.#out.write(`${text}\n`);
    this.#drawLive();
  }

  close(): void {
    this.#stopTicker();
  }

  #startTicker(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      this.#frame = (this.#frame + 1) % FRAMES.length;
      this.#clearLive();
      this.#drawLive();
    }, 100);
    this.#timer.unref();
    this.#drawLive();
  }

  #stopTicker(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.#clearLive();
  }

  #drawLive(): void {
    if (!this.#live || this.#running.size === 0) return;
    const now = Date.now();
    const parts = [...this.#running].map((r) => `${prefix(r.host)}${r.name} ${seconds(now - r.startedAt)}`);
    this.#out.write(`${FRAMES[this.#frame]} ${parts.join('  ·  ')}`.slice(0, 200));
    this.#liveShown = true;
  }

  #clearLive(): void {
    if (!this.#liveShown) return;
    this.#out.write('\r\x1b[2K');
    this.#liveShown = false;
  }
}

function prefix(host: string | null): string {
  return host ? `[${host}] ` : '';
}

export function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}
