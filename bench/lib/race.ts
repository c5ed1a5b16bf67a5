/**
 * Runs wrk against several servers in interleaved rounds (A B C, B C A, …)
 * so a slow minute of the machine hits every server alike, and keeps the
 * median of each. Servers stay up for the whole race; each run is preceded
 * by an unmeasured warm-up so the JIT and caches are hot.
 *
 * Other programs on the machine are not pinned and can steal the cores: each
 * run waits for a quiet second first, a run during which they still used more
 * than MAX_OTHER_LOAD is repeated (up to ATTEMPTS times, keeping the least
 * disturbed), and the table says how much was left.
 */
import { cores, otherLoad, sampleCpu, treeLoad, waitForQuiet } from './cpu.ts';
import type { BenchOptions } from './options.ts';
import { median, type Printer } from './report.ts';
import { runWrk, wrkFailures, type WrkResult } from './wrk.ts';

/** CPU (in cores) other programs may use during a run before it is repeated. */
export const MAX_OTHER_LOAD = 0.1;
const ATTEMPTS = 3;
/** How long to wait for the machine to calm down before a run. */
const QUIET_WAIT_MS = 60_000;

export interface Contestant {
  name: string;
  url: string;
  /** The process trees serving (server, and its upstream for a proxy): their CPU is not "other". */
  pids: number[];
  /** Extra request headers for wrk. */
  headers?: string[];
}

export interface MeasuredRun extends WrkResult {
  /** CPU other programs used during the run, in cores. */
  otherLoad: number;
  /** CPU the server (and its upstream) used, in cores: about 1.0 when the server, not wrk, is the limit. */
  serverLoad: number;
  /** CPU wrk used, in cores. */
  wrkLoad: number;
}

export interface RaceResult {
  name: string;
  runs: MeasuredRun[];
  requestsPerSec: number;
  p99Ms: number;
  /** Socket errors and non-2xx/3xx over every measured run. */
  failures: number;
  /** The most CPU other programs took in any kept run, in cores. */
  worstOtherLoad: number;
}

export async function race(contestants: Contestant[], options: BenchOptions, out: Printer): Promise<Map<string, RaceResult>> {
  const runs = new Map<string, MeasuredRun[]>(contestants.map((c) => [c.name, []]));
  for (let round = 0; round < options.rounds; round++) {
    const order = contestants.map((_, i) => contestants[(i + round) % contestants.length]!);
    for (const contestant of order) {
      const result = await measure(contestant, options);
      runs.get(contestant.name)!.push(result);
      const failed = wrkFailures(result);
      out.line(
        `  round ${round + 1}/${options.rounds}  ${contestant.name.padEnd(34)} ${Math.round(result.requestsPerSec).toString().padStart(7)} req/s  p99 ${result.p99Ms.toFixed(2).padStart(6)} ms  cpu: server ${result.serverLoad.toFixed(2)} wrk ${result.wrkLoad.toFixed(2)} other ${result.otherLoad.toFixed(2)}${result.otherLoad > MAX_OTHER_LOAD ? ' (disturbed)' : ''}${failed ? `  ${failed} FAILED` : ''}`,
      );
    }
  }
  const results = new Map<string, RaceResult>();
  for (const [name, list] of runs) {
    results.set(name, {
      name,
      runs: list,
      requestsPerSec: median(list.map((r) => r.requestsPerSec)),
      p99Ms: median(list.map((r) => r.p99Ms)),
      failures: list.reduce((sum, r) => sum + wrkFailures(r), 0),
      worstOtherLoad: Math.max(...list.map((r) => r.otherLoad)),
    });
  }
  return results;
}

/** One measured run after a warm-up, repeated while other programs disturb it. */
async function measure(contestant: Contestant, options: BenchOptions): Promise<MeasuredRun> {
  let best: MeasuredRun | null = null;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    await waitForQuiet(QUIET_WAIT_MS, MAX_OTHER_LOAD);
    await runWrk({ url: contestant.url, durationS: options.warmupS, headers: contestant.headers });
    const before = sampleCpu(contestant.pids);
    const result = await runWrk({ url: contestant.url, durationS: options.durationS, headers: contestant.headers });
    const after = sampleCpu(contestant.pids);
    const seconds = (after.at - before.at) / 1000;
    const run = { ...result, otherLoad: otherLoad(before, after, result.cpuTicks), serverLoad: treeLoad(before, after), wrkLoad: cores(result.cpuTicks, seconds) };
    if (best === null || run.otherLoad < best.otherLoad) best = run;
    if (run.otherLoad <= MAX_OTHER_LOAD) break;
  }
  return best!;
}
