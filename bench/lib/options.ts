/**
 * Options every bench understands, from the command line:
 *   --duration S   seconds of measured load per run (default 3)
 *   --warmup S     seconds of unmeasured load before each run (default 1)
 *   --rounds N     runs per server, interleaved; the median counts (default 5)
 *   --patience S   longest wait for a quiet machine before each run (default 30)
 *   --quick        --duration 2 --warmup 1 --rounds 1 --patience 5 (checks a bench works; not for numbers)
 */
import { parseArgs } from 'node:util';

export interface BenchOptions {
  durationS: number;
  warmupS: number;
  rounds: number;
  patienceS: number;
}

export function parseBenchOptions(argv: string[]): { options: BenchOptions; positionals: string[] } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      duration: { type: 'string' },
      warmup: { type: 'string' },
      rounds: { type: 'string' },
      patience: { type: 'string' },
      quick: { type: 'boolean' },
    },
  });
  const quick = values.quick === true;
  return {
    options: {
      // Many short interleaved runs: the host's noise comes in bursts, and a median of 5 outvotes one.
      durationS: number('--duration', values.duration, quick ? 2 : 3),
      warmupS: number('--warmup', values.warmup, 1),
      rounds: number('--rounds', values.rounds, quick ? 1 : 5),
      patienceS: number('--patience', values.patience, quick ? 5 : 30),
    },
    positionals,
  };
}

function number(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag}: expected a positive number, got "${value}"`);
  return n;
}
