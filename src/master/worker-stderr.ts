/**
 * A watched worker's stderr, passed on to Kirin's stderr byte for byte except
 * for what Node's inspector prints about itself: "Debugger listening on
 * ws://127.0.0.1:PORT/UUID" and its companions. The UUID is the inspector's
 * only key, and with --inspect-publish-uid=stderr this pipe is the only place
 * it appears (src/ipc.ts, INSPECTABLE_WORKER_FLAGS), so those lines never
 * reach a log or a terminal: the master hears the URL instead.
 *
 * Output is passed on in whole lines, as it arrives. A partial line is held
 * for its end: every worker's output and the master's own log lines share
 * Kirin's stderr, and a line cut where one read of the pipe ended would be
 * spliced with another's (two workers' JSON lines become one broken line).
 * A partial line whose end does not come within PARTIAL_LINE_MS goes out
 * anyway (a prompt, a progress bar), except one that may still become one of
 * the inspector's, which is held until its newline.
 */
import type { Readable, Writable } from 'node:stream';

/**
 * Only the shape our flags produce: the app writes to this stderr too, and a line it
 * forged must not send the master to another host.
 */
const ANNOUNCEMENT = /^Debugger listening on (ws:\/\/127\.0\.0\.1:\d{1,5}\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;
/** Everything the inspector prints on stderr (Node 22–24): each names the URL, or follows or reports a session. */
const INSPECTOR_LINES = ['Debugger listening on ws://', 'Debugger ending on ws://', 'For help, see: https://nodejs.org/', 'Debugger attached.', 'Waiting for the debugger to disconnect...'];
/** Longer than any inspector line: past this, a held line is the app's. */
const MAX_HELD = 256;
const NEWLINE = 0x0a;
/** How long a partial line of the app waits for its end before it goes out as it is. */
const PARTIAL_LINE_MS = 50;
/** A partial line longer than this goes out at once: holding is for lines, not for a stream without newlines. */
const MAX_PARTIAL_LINE = 64 * 1024;

export function passWorkerStderr(input: Readable, output: (chunk: Buffer) => void, onInspectorUrl: (url: string) => void): void {
  let held = '';
  let partialTimer: NodeJS.Timeout | null = null;
  const pass = (text: string) => {
    if (text.length > 0) output(Buffer.from(text, 'latin1'));
  };
  const passPartialLine = () => {
    partialTimer = null;
    // Paused (Kirin's stderr is full): the line's end may be waiting in the pipe; 'resume' starts the wait again.
    if (input.isPaused()) return;
    pass(held);
    held = '';
  };
  const waitForLineEnd = () => {
    if (partialTimer === null && held.length > 0 && !mayBecomeInspectorLine(held)) partialTimer = setTimeout(passPartialLine, PARTIAL_LINE_MS);
  };
  input.on('data', (chunk: Buffer) => {
    if (partialTimer !== null) clearTimeout(partialTimer);
    partialTimer = null;
    // Most reads are whole lines of the app's with nothing of the inspector's: passed on as they are,
    // searched natively, not copied into a string (an app logging on stderr per request goes through here).
    if (held.length === 0 && chunk[chunk.length - 1] === NEWLINE && !INSPECTOR_LINES.some((known) => chunk.includes(known, 0, 'latin1'))) {
      output(chunk);
      return;
    }
    // latin1 maps bytes to characters one to one: what goes out is exactly what came in.
    const text = held + chunk.toString('latin1');
    held = '';
    let out = '';
    let start = 0;
    for (let newline = text.indexOf('\n'); newline !== -1; newline = text.indexOf('\n', start)) {
      const line = text.slice(start, newline);
      if (isInspectorLine(line)) {
        const url = ANNOUNCEMENT.exec(line)?.[1];
        if (url) onInspectorUrl(url);
      } else {
        out += text.slice(start, newline + 1);
      }
      start = newline + 1;
    }
    const tail = text.slice(start);
    if (mayBecomeInspectorLine(tail) || tail.length <= MAX_PARTIAL_LINE) held = tail;
    else out += tail;
    pass(out);
    waitForLineEnd();
  });
  input.on('resume', waitForLineEnd);
  input.on('end', () => {
    if (partialTimer !== null) clearTimeout(partialTimer);
    pass(held);
    held = '';
  });
}

function mayBecomeInspectorLine(tail: string): boolean {
  return tail.length < MAX_HELD && INSPECTOR_LINES.some((known) => known.startsWith(tail) || tail.startsWith(known));
}

function isInspectorLine(line: string): boolean {
  return INSPECTOR_LINES.some((known) => line.startsWith(known));
}

/**
 * Kirin's stderr as every watched worker's output goes to it. Nothing is
 * dropped and the master never blocks: a write that finds the destination full
 * (a slow terminal, a busy journald) pauses that worker's pipe until it drains,
 * so the worker's own writes wait, as they did when it wrote there itself.
 * (A synchronous write would lose bytes: Node makes a piped stderr
 * non-blocking, and a full pipe answers EAGAIN.) One 'drain' listener however
 * many workers wait.
 */
export class SharedOutput {
  readonly #output: Writable;
  readonly #waiting = new Set<Readable>();

  constructor(output: Writable) {
    this.#output = output;
    // Its reader gone (EPIPE): what workers write is dropped from then on, as the master's own lines are; no crash, no worker left paused.
    output.on('error', () => this.#resumeAll());
    output.on('close', () => this.#resumeAll());
  }

  write(chunk: Buffer, from: Readable): void {
    if (this.#output.destroyed) return;
    if (this.#output.write(chunk) || this.#output.destroyed || this.#waiting.has(from)) return;
    from.pause();
    if (this.#waiting.size === 0) this.#output.once('drain', () => this.#resumeAll());
    this.#waiting.add(from);
  }

  #resumeAll(): void {
    for (const input of this.#waiting) input.resume();
    this.#waiting.clear();
  }
}
