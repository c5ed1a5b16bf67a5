/**
 * Options every bench understands, from the command line:
 *   --duration S   seconds of measured load per run (default 5)
 *   --warmup S     seconds of unmeasured load before each run (default 2)
 *   --rounds N     runs per server, interleaved; the median counts (default 3)
 *   --quick        --duration 2 --warmup 1 --rounds 1 (to check a bench works, not for numbers)
 */
import { parseArgs } from 'node:util';

export interface BenchOptions {
  durationS: number;
  warmupS: number;
  rounds: number;
}

export function parseBenchOptions(argv: string[]): { options: BenchOptions; positionals: string[] } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      duration: { type: 'string' },
      warmup: { type: 'string' },
      rounds: { type: 'string' },
      quick: { type: 'boolean' },
    },
  });
  const quick = values.quick === true;
  return {
    options: {
      durationS: number('--duration', values.duration, quick ? 2 : 5),
      warmupS: number('--warmup', values.warmup, quick ? 1 : 2),
      rounds: number('--rounds', values.rounds, quick ? 1 : 3),
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
