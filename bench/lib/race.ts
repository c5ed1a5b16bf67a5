/**
 * Runs wrk (or h2load) against several servers in interleaved rounds (A B C, B C A, …, or
 * around a baseline: B A B C B) so a slow minute of the machine hits every
 * server alike, and keeps the median of each. Servers stay up for the whole race; each run is preceded
 * by an unmeasured warm-up so the JIT and caches are hot (and the race starts
 * with a longer one per server).
 *
 * Other programs on the machine are not pinned and can steal the cores: each
 * run waits for a quiet second first, a run during which they still used more
 * than MAX_OTHER_LOAD is repeated (up to ATTEMPTS times, keeping the least
 * disturbed), and the medians leave disturbed runs out when there are clean ones.
 */
import { cores, otherLoad, sampleCpu, treeLoad, waitForQuiet } from './cpu.ts';
import type { BenchOptions } from './options.ts';
import { median, type Printer } from './report.ts';
import { runH2load } from './h2load.ts';
import { runWrk, wrkFailures, type WrkResult } from './wrk.ts';

/** CPU (in cores) other programs may use during a run before it is repeated. */
export const MAX_OTHER_LOAD = 0.1;
const ATTEMPTS = 3;

export interface Contestant {
  name: string;
  url: string;
  /** The process trees serving (server, and its upstream for a proxy): their CPU is not "other". */
  pids: number[];
  /** Extra request headers for wrk. */
  headers?: string[];
  /** The load generator: wrk (HTTP/1.1, the default) or h2load (HTTP/2, `-m10`). */
  tool?: 'wrk' | 'h2load';
  /** Parts of the serving trees whose CPU is reported on its own (a relay in front of a server), by name. */
  parts?: Record<string, number[]>;
}

export interface MeasuredRun extends WrkResult {
  /** CPU other programs used during the run, in cores. */
  otherLoad: number;
  /** CPU the server (and its upstream) used, in cores: about 1.0 when the server, not the load generator, is the limit. */
  serverLoad: number;
  /** CPU the load generator (wrk or h2load) used, in cores. */
  clientLoad: number;
  /** CPU each of the contestant's `parts` used, in cores. */
  partLoads: Record<string, number>;
}

export interface RaceResult {
  name: string;
  runs: MeasuredRun[];
  /** Median over the undisturbed runs (over all runs when every one was disturbed). */
  requestsPerSec: number;
  p99Ms: number;
  /** Median of req/s ÷ the server's CPU use over all runs: its efficiency, which other programs disturb far less. */
  requestsPerCpuSecond: number;
  /** For each of the contestant's `parts`: the median of req/s ÷ the part's CPU use (what one core of it would carry). */
  requestsPerPartCpuSecond: Record<string, number>;
  /**
   * With a baseline: the median over rounds of this server's req/s ÷ the mean of the
   * baseline's runs just before and just after it (1 for the baseline itself).
   */
  ratio: number | null;
  /** Runs the medians are taken from: the undisturbed ones, or all. */
  counted: number;
  /** True when every run was disturbed and the medians include them. */
  disturbed: boolean;
  /** Socket errors and non-2xx/3xx over every measured run. */
  failures: number;
}

/**
 * Races the contestants. With `baseline` (a contestant's name), each round runs
 * B X1 B X2 … B: every other server is measured between two baseline runs, and
 * its ratio to their mean is immune to the slow drifts of a shared machine that
 * move all figures by up to 40% (the noise that comes from outside the VM and
 * shows in no CPU counter).
 */
export async function race(contestants: Contestant[], options: BenchOptions, out: Printer, baseline?: string): Promise<Map<string, RaceResult>> {
  const runs = new Map<string, MeasuredRun[]>(contestants.map((c) => [c.name, []]));
  const ratios = new Map<string, { ratio: number; clean: boolean }[]>(contestants.map((c) => [c.name, []]));
  const base = baseline === undefined ? null : contestants.find((c) => c.name === baseline);
  if (baseline !== undefined && !base) throw new Error(`race: no contestant named "${baseline}" to be the baseline`);
  const others = contestants.filter((c) => c !== base);
  const run = async (contestant: Contestant, round: number): Promise<MeasuredRun> => {
    const result = await measure(contestant, options);
    runs.get(contestant.name)!.push(result);
    const failed = wrkFailures(result);
    out.line(
      `  round ${round + 1}/${options.rounds}  ${contestant.name.padEnd(34)} ${Math.round(result.requestsPerSec).toString().padStart(7)} req/s  ${Number.isNaN(result.p99Ms) ? '' : `p99 ${result.p99Ms.toFixed(2).padStart(6)} ms  `}cpu: server ${result.serverLoad.toFixed(2)}${Object.entries(result.partLoads).map(([name, load]) => ` (${name} ${load.toFixed(2)})`).join('')} ${contestant.tool ?? 'wrk'} ${result.clientLoad.toFixed(2)} other ${result.otherLoad.toFixed(2)}${isClean(result) ? '' : ' (disturbed)'}${failed ? `  ${failed} FAILED` : ''}`,
    );
    return result;
  };
  // A fresh server's JIT is still compiling after one short warm-up (over HTTP/2 TurboFan needed ~40,000
  // requests): one longer unmeasured run each first, so round 1 does not measure a half-compiled server.
  for (const contestant of contestants) await load(contestant, options.warmupS + options.durationS);
  for (let round = 0; round < options.rounds; round++) {
    const order = others.map((_, i) => others[(i + round) % others.length]!);
    if (!base) {
      for (const contestant of order) await run(contestant, round);
      continue;
    }
    let before = await run(base, round);
    for (const contestant of order) {
      const measured = await run(contestant, round);
      const after = await run(base, round);
      const reference = (before.requestsPerSec + after.requestsPerSec) / 2;
      ratios.get(contestant.name)!.push({ ratio: reference > 0 ? measured.requestsPerSec / reference : 0, clean: isClean(before) && isClean(measured) && isClean(after) });
      before = after;
    }
  }
  const results = new Map<string, RaceResult>();
  for (const [name, list] of runs) {
    const clean = list.filter(isClean);
    const counted = clean.length > 0 ? clean : list;
    const paired = ratios.get(name)!;
    const cleanPaired = paired.filter((p) => p.clean);
    results.set(name, {
      name,
      runs: list,
      requestsPerSec: median(counted.map((r) => r.requestsPerSec)),
      p99Ms: median(counted.map((r) => r.p99Ms)),
      requestsPerCpuSecond: median(list.map((r) => (r.serverLoad > 0 ? r.requestsPerSec / r.serverLoad : 0))),
      requestsPerPartCpuSecond: Object.fromEntries(Object.keys(list[0]?.partLoads ?? {}).map((part) => [part, median(list.map((r) => (r.partLoads[part]! > 0 ? r.requestsPerSec / r.partLoads[part]! : 0)))])),
      ratio: !base ? null : name === base.name ? 1 : median((cleanPaired.length > 0 ? cleanPaired : paired).map((p) => p.ratio)),
      counted: counted.length,
      disturbed: clean.length === 0,
      failures: list.reduce((sum, r) => sum + wrkFailures(r), 0),
    });
  }
  return results;
}

/** a ÷ b: through their paired ratios to the race's baseline when it had one, else their medians. */
export function relative(a: RaceResult, b: RaceResult): number {
  if (a.ratio !== null && b.ratio !== null) return b.ratio > 0 ? a.ratio / b.ratio : 0;
  return b.requestsPerSec > 0 ? a.requestsPerSec / b.requestsPerSec : 0;
}

function isClean(run: MeasuredRun): boolean {
  return run.otherLoad <= MAX_OTHER_LOAD;
}

/** One measured run after a warm-up, repeated while other programs disturb it. */
async function measure(contestant: Contestant, options: BenchOptions): Promise<MeasuredRun> {
  let best: MeasuredRun | null = null;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    await waitForQuiet(options.patienceS * 1000, MAX_OTHER_LOAD);
    await load(contestant, options.warmupS);
    const parts = Object.entries(contestant.parts ?? {});
    const partsBefore = parts.map(([, pids]) => sampleCpu(pids));
    const before = sampleCpu(contestant.pids);
    const result = await load(contestant, options.durationS);
    const after = sampleCpu(contestant.pids);
    const partLoads = Object.fromEntries(parts.map(([name, pids], i) => [name, treeLoad(partsBefore[i]!, sampleCpu(pids))]));
    const seconds = (after.at - before.at) / 1000;
    const run = { ...result, otherLoad: otherLoad(before, after, result.cpuTicks), serverLoad: treeLoad(before, after), clientLoad: cores(result.cpuTicks, seconds), partLoads };
    if (best === null || run.otherLoad < best.otherLoad) best = run;
    if (run.otherLoad <= MAX_OTHER_LOAD) break;
  }
  return best!;
}

function load(contestant: Contestant, durationS: number): Promise<WrkResult> {
  if (contestant.tool === 'h2load') return runH2load({ url: contestant.url, durationS });
  return runWrk({ url: contestant.url, durationS, headers: contestant.headers });
}
