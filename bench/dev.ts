/**
 * `kirin dev` against `node --watch` and nodemon (issue 15, Must show 3), in
 * one run, on the same app and the same saves:
 *
 *   save → new code   time from writing message.ts to the first response
 *                     that carries the new text, polled every 5 ms with a new
 *                     connection each time (refused connections are counted:
 *                     Kirin keeps its socket open, the others restart theirs)
 *   idle CPU          CPU of the whole process tree over 30 s with no change,
 *                     3 s after start-up (Kirin's spare worker loads then)
 *
 * for a small Hono app and an Express app. Each tool runs with its defaults
 * (nodemon: `--exec node`, its own debounce). Targets: Kirin's median at or
 * below node --watch's, idle CPU at or below node --watch's (+0.1% of a core,
 * the resolution of /proc's ticks over 30 s). Not pinned: the three run one
 * after the other on a quiet-enough machine; the ratios matter.
 *
 * Usage: node bench/dev.ts [--rounds N] [--quick]
 */
import { mkdirSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { freePort } from '../test/support/kirin.ts';
import { cores, sampleCpu } from './lib/cpu.ts';
import { parseBenchOptions, type BenchOptions } from './lib/options.ts';
import { APPS_DIR, KIRIN_BIN, NODE, ROOT, npmBin } from './lib/paths.ts';
import { launch, type Launched } from './lib/process.ts';
import { waitForHttp } from './lib/ready.ts';
import { Printer, fmt, median, table, type BenchResult, type Target } from './lib/report.ts';
import { benchTempDir } from './lib/temp.ts';

const BENCH = 'dev';
const POLL_MS = 5;
const SAVES_PER_ROUND = 5;
/** Between saves: the restart has settled (old process gone), as between two edits by a person. */
const BETWEEN_SAVES_MS = 700;
/** Before the idle window: start-up is over for every tool (Kirin's spare worker has loaded). */
const SETTLE_MS = 3_000;

type Tool = 'kirin dev' | 'node --watch' | 'nodemon';
const TOOLS: Tool[] = ['kirin dev', 'node --watch', 'nodemon'];

interface AppCase {
  name: string;
  /** The module Kirin serves (a fetch handler or a Node listener). */
  app: string;
  /** The standalone server for node --watch and nodemon. */
  server: string;
}

const APPS: AppCase[] = [
  { name: 'Hono', app: 'hono-app.ts', server: 'hono-server.ts' },
  { name: 'Express', app: 'express-app.mjs', server: 'express-server.mjs' },
];

interface Measured {
  saveMs: number[];
  refused: number;
  idleCores: number;
}

export async function run(options: BenchOptions, out = new Printer()): Promise<BenchResult> {
  const idleSeconds = options.durationS <= 2 ? 5 : 30;
  const rounds = Math.max(1, options.rounds);
  out.line(`## dev: save → first response with the new code (${rounds * SAVES_PER_ROUND} saves per tool), idle CPU over ${idleSeconds} s`);
  const targets: Target[] = [];
  const rows: (string | number)[][] = [];
  for (const appCase of APPS) {
    const results = new Map<Tool, Measured>();
    for (const tool of TOOLS) results.set(tool, { saveMs: [], refused: 0, idleCores: 0 });
    // Interleaved rounds: a burst of noise on the machine hits every tool alike.
    for (let round = 0; round < rounds; round++) {
      for (const tool of TOOLS) {
        const measured = results.get(tool)!;
        await measureSaves(appCase, tool, round === 0 ? idleSeconds : 0, measured);
      }
    }
    for (const tool of TOOLS) {
      const m = results.get(tool)!;
      rows.push([appCase.name, tool, median(m.saveMs), Math.min(...m.saveMs), Math.max(...m.saveMs), m.refused, `${(m.idleCores * 100).toFixed(2)}%`]);
    }
    const kirin = results.get('kirin dev')!;
    const watch = results.get('node --watch')!;
    const kirinMedian = median(kirin.saveMs);
    const watchMedian = median(watch.saveMs);
    targets.push({ bench: BENCH, name: `${appCase.name}: save → new code`, measured: `${fmt(kirinMedian)} ms vs node --watch ${fmt(watchMedian)} ms`, required: '<= node --watch', pass: kirinMedian <= watchMedian });
    targets.push({
      bench: BENCH,
      name: `${appCase.name}: idle CPU`,
      measured: `${(kirin.idleCores * 100).toFixed(2)}% vs node --watch ${(watch.idleCores * 100).toFixed(2)}% of a core`,
      required: '<= node --watch (+0.1%)',
      pass: kirin.idleCores <= watch.idleCores + 0.001,
    });
    targets.push({ bench: BENCH, name: `${appCase.name}: refused during restarts`, measured: String(kirin.refused), required: '0', pass: kirin.refused === 0 });
  }
  out.line(table(['app', 'tool', 'median ms', 'min ms', 'max ms', 'refused', 'idle CPU'], rows));
  return { name: BENCH, targets, text: out.text };
}

/** Starts `tool` on a fresh copy of the app, measures its idle CPU (when asked), then SAVES_PER_ROUND saves. */
async function measureSaves(appCase: AppCase, tool: Tool, idleSeconds: number, into: Measured): Promise<void> {
  const dir = project(appCase);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  const server = start(tool, appCase, dir, port);
  try {
    await waitForHttp(url, 30_000, server);
    if (idleSeconds > 0) {
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      into.idleCores = await idleCpu(server.pid, idleSeconds);
    }
    for (let i = 0; i < SAVES_PER_ROUND; i++) {
      const marker = `saved ${Date.now()} ${i}`;
      const started = performance.now();
      writeFileSync(join(dir, 'message.ts'), messageModule(marker));
      into.refused += await pollUntil(url, marker);
      into.saveMs.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, BETWEEN_SAVES_MS));
    }
  } finally {
    await server.stop();
  }
}

function start(tool: Tool, appCase: AppCase, dir: string, port: number): Launched {
  const env = { PORT: String(port), NODE_ENV: 'development' };
  switch (tool) {
    case 'kirin dev':
      return launch({ name: tool, command: NODE, args: [KIRIN_BIN, 'dev', appCase.app, '--bind', `127.0.0.1:${port}`, '--state-dir', join(dir, 'state'), '--access-log', 'off'], cpu: null, cwd: dir, env });
    case 'node --watch':
      return launch({ name: tool, command: NODE, args: ['--watch', appCase.server], cpu: null, cwd: dir, env });
    case 'nodemon':
      return launch({ name: tool, command: npmBin('nodemon'), args: ['--quiet', '--ext', 'ts,js,json', '--exec', `${NODE} ${appCase.server}`], cpu: null, cwd: dir, env });
  }
}

/** A fresh folder with the app, its server and node_modules (a link: the watchers ignore it). */
function project(appCase: AppCase): string {
  const dir = benchTempDir('kirin-bench-dev-');
  mkdirSync(dir, { recursive: true });
  for (const file of [appCase.app, appCase.server]) copyFileSync(join(APPS_DIR, 'dev', file), join(dir, file));
  writeFileSync(join(dir, 'message.ts'), messageModule('first'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
}

function messageModule(text: string): string {
  return `export function message(): string {\n  return ${JSON.stringify(text)};\n}\n`;
}

/** Polls until a response carries `marker`; returns how many attempts were refused (or reset) on the way. */
async function pollUntil(url: string, marker: string): Promise<number> {
  let refused = 0;
  const deadline = performance.now() + 30_000;
  for (;;) {
    const answer = await get(url);
    if (answer === null) refused++;
    else if (answer.includes(marker)) return refused;
    if (performance.now() > deadline) throw new Error(`no response with the new code within 30 s from ${url}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** The body, or null when the connection was refused or reset. */
function get(url: string): Promise<string | null> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(body));
      res.on('error', () => resolve(null));
    });
    req.on('error', () => resolve(null));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

async function idleCpu(pid: number, seconds: number): Promise<number> {
  const before = sampleCpu([pid]);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const after = sampleCpu([pid]);
  return cores(after.treeTicks - before.treeTicks, (after.at - before.at) / 1000);
}

if (import.meta.main) {
  const { options } = parseBenchOptions(process.argv.slice(2));
  const result = await run(options);
  process.stdout.write(`\n${table(['target', 'measured', 'required', 'result'], result.targets.map((t) => [t.name, t.measured, t.required, t.pass ? 'PASS' : 'FAIL']))}\n`);
}
