/**
 * `npm run bench`: every bench in sequence, then one table of every target
 * (PASS/FAIL). Run one or some by name:
 *
 *   node bench/run.ts app-server
 *   node bench/run.ts edge reload --rounds 5
 *
 * A bench is bench/NAME.ts exporting `run(options, printer): Promise<BenchResult>`
 * (see bench/lib/report.ts); one that only prints (no `run` export) is run as
 * a child process and its output shown, without targets.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseBenchOptions, type BenchOptions } from './lib/options.ts';
import { BENCH_DIR, NODE } from './lib/paths.ts';
import { Printer, table, type BenchResult, type Target } from './lib/report.ts';

const BENCHES = ['app-server', 'memory', 'reload', 'edge', 'tls', 'relay', 'ws', 'dev'] as const;
/** Benches other parts of the project write; skipped with a note while they do not exist. */
const OPTIONAL = new Set(['tls']);

type BenchModule = { run?: (options: BenchOptions, out: Printer) => Promise<BenchResult> };

async function main(): Promise<number> {
  const { options, positionals } = parseBenchOptions(process.argv.slice(2));
  for (const name of positionals) {
    if (!(BENCHES as readonly string[]).includes(name)) {
      process.stderr.write(`unknown bench "${name}"; choose from: ${BENCHES.join(', ')}\n`);
      return 2;
    }
  }
  const selected = positionals.length > 0 ? positionals : [...BENCHES];
  const targets: Target[] = [];
  const notes: string[] = [];
  for (const name of selected) {
    const file = join(BENCH_DIR, `${name}.ts`);
    if (!existsSync(file)) {
      if (OPTIONAL.has(name)) notes.push(`${name}: bench/${name}.ts does not exist yet; skipped`);
      else targets.push({ bench: name, name: 'bench', measured: `bench/${name}.ts is missing`, required: 'runs', pass: false });
      continue;
    }
    process.stdout.write('\n');
    try {
      const module = (await import(pathToFileURL(file).href)) as BenchModule;
      if (typeof module.run === 'function') {
        const result = await module.run(options, new Printer());
        targets.push(...result.targets);
      } else {
        const child = spawnSync(NODE, [file, ...process.argv.slice(2).filter((a) => a !== name)], { stdio: 'inherit' });
        notes.push(`${name}: ran as a script (exit ${child.status}); it exports no run(), so its numbers are above, not in this table`);
      }
    } catch (error) {
      process.stdout.write(`${name} failed: ${(error as Error).stack ?? error}\n`);
      targets.push({ bench: name, name: 'bench', measured: `failed: ${(error as Error).message.split('\n')[0]}`, required: 'runs', pass: false });
    }
  }
  process.stdout.write('\n## summary: targets from the issues (ratios taken within one run)\n');
  process.stdout.write(`${table(['bench', 'target', 'measured', 'required', 'result'], targets.map((t) => [t.bench, t.name, t.measured, t.required, t.pass ? 'PASS' : 'FAIL']))}\n`);
  for (const note of notes) process.stdout.write(`note: ${note}\n`);
  return targets.every((t) => t.pass) ? 0 : 1;
}

process.exitCode = await main();
