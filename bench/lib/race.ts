/**
 * Runs wrk against several servers in interleaved rounds (A B C, B C A, …)
 * so a slow minute of the machine hits every server alike, and keeps the
 * median of each. Servers stay up for the whole race; each run is preceded
 * by an unmeasured warm-up so the JIT and caches are hot.
 */
import { median, type Printer } from './report.ts';
import type { BenchOptions } from './options.ts';
import { runWrk, wrkFailures, type WrkResult } from './wrk.ts';

export interface Contestant {
  name: string;
  url: string;
  /** Extra request headers for wrk. */
  headers?: string[];
}

export interface RaceResult {
  name: string;
  runs: WrkResult[];
  requestsPerSec: number;
  p99Ms: number;
  /** Socket errors and non-2xx/3xx over every measured run. */
  failures: number;
}

export async function race(contestants: Contestant[], options: BenchOptions, out: Printer): Promise<Map<string, RaceResult>> {
  const runs = new Map<string, WrkResult[]>(contestants.map((c) => [c.name, []]));
  for (let round = 0; round < options.rounds; round++) {
    const order = contestants.map((_, i) => contestants[(i + round) % contestants.length]!);
    for (const contestant of order) {
      await runWrk({ url: contestant.url, durationS: options.warmupS, headers: contestant.headers });
      const result = await runWrk({ url: contestant.url, durationS: options.durationS, headers: contestant.headers });
      runs.get(contestant.name)!.push(result);
      out.line(`  round ${round + 1}/${options.rounds}  ${contestant.name.padEnd(34)} ${Math.round(result.requestsPerSec).toString().padStart(7)} req/s  p99 ${result.p99Ms.toFixed(2)} ms${wrkFailures(result) ? `  (${wrkFailures(result)} failed)` : ''}`);
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
    });
  }
  return results;
}
