/**
 * The watchdog thread of a worker. The main thread bumps a shared counter every
 * 250 ms; when it stops moving for `reportAfterMs`, this thread pauses the main
 * thread through the inspector, reads the JavaScript stack and the requests in
 * progress, and writes a stall report to the master over its own pipe (the
 * main thread's IPC channel is as stuck as the main thread). The master decides
 * whether to kill; this thread only testifies.
 */
import { writeSync } from 'node:fs';
import { Session } from 'node:inspector';
import { workerData } from 'node:worker_threads';
import type { StallReport } from '../ipc.ts';

interface WatchdogData {
  ticks: Int32Array;
  reportAfterMs: number;
  fd: number;
}

const { ticks, reportAfterMs, fd } = workerData as WatchdogData;
let lastTick = Atomics.load(ticks, 0);
let since = Date.now();
let reported = false;

setInterval(() => {
  const now = Date.now();
  const tick = Atomics.load(ticks, 0);
  if (tick !== lastTick) {
    lastTick = tick;
    since = now;
    reported = false;
    return;
  }
  if (!reported && now - since >= reportAfterMs) {
    reported = true;
    void report(now - since);
  }
}, 100);

async function report(blockedMs: number): Promise<void> {
  const stall: StallReport = { t: 'stall', blockedMs, requests: [], stack: [] };
  try {
    const found = await Promise.race([inspectMainThread(), new Promise<null>((resolve) => setTimeout(resolve, 1500, null))]);
    if (found) {
      stall.requests = found.requests;
      stall.stack = found.stack;
    }
  } catch {
    // No stack then; the master still names the worker.
  }
  try {
    writeSync(fd, `${JSON.stringify(stall)}\n`);
  } catch {
    // The master is gone.
  }
}

interface CallFrame {
  functionName: string;
  url: string;
  location: { scriptId: string; lineNumber: number; columnNumber: number };
}

function inspectMainThread(): Promise<{ requests: string[]; stack: string[] }> {
  return new Promise((resolve, reject) => {
    const session = new Session();
    session.connectToMainThread();
    // Frames name their script by id; enabling the debugger announces every script with its URL.
    const scripts = new Map<string, string>();
    session.on('Debugger.scriptParsed', (message) => {
      const { scriptId, url } = message.params as { scriptId: string; url: string };
      scripts.set(scriptId, url);
    });
    session.once('Debugger.paused', (message) => {
      const frames = (message.params as { callFrames: CallFrame[] }).callFrames;
      const where = (f: CallFrame) => (f.url || scripts.get(f.location.scriptId) || '<unknown>').replace(/^file:\/\//, '');
      const stack = frames.slice(0, 12).map((f) => `${f.functionName || '<anonymous>'} (${where(f)}:${f.location.lineNumber + 1}:${f.location.columnNumber + 1})`);
      session.post(
        'Runtime.evaluate',
        { expression: `JSON.stringify(globalThis[Symbol.for('kirin.inflight')]?.() ?? [])`, returnByValue: true },
        (error, result) => {
          let requests: string[] = [];
          if (!error) {
            try {
              requests = JSON.parse((result as { result: { value: string } }).result.value) as string[];
            } catch {
              requests = [];
            }
          }
          session.post('Debugger.resume', () => {
            session.post('Debugger.disable', () => session.disconnect());
          });
          resolve({ requests, stack });
        },
      );
    });
    session.post('Debugger.enable', (error) => {
      if (error) reject(error);
      else session.post('Debugger.pause', (pauseError) => pauseError && reject(pauseError));
    });
  });
}
