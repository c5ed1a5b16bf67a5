/**
 * Kirin as a user runs it: `node dist/cli/bin.js serve …` (the built dist/, so
 * `npm run bench` builds first), with its own state folder. Ready when the
 * master prints its ready line (every worker is up) and the port accepts.
 */
import { join } from 'node:path';
import { benchTempDir } from '../temp.ts';
import { KIRIN_BIN, NODE } from '../paths.ts';
import { launch } from '../process.ts';
import { waitForPort } from '../ready.ts';
import { serverOf, type Server } from '../server.ts';

export interface KirinOptions {
  name: string;
  /** An app module (`kirin serve APP`) or a config file (`--config FILE`). */
  app?: string;
  config?: string;
  port: number;
  workers: number;
  /** 'off', or a file path. */
  accessLog: string;
  cpu: number | null;
  /** More `serve` flags, e.g. ['--max-requests', '1000']. */
  extraArgs?: string[];
  cwd?: string;
  /** More environment variables (NODE_OPTIONS for profiling …). */
  env?: Record<string, string>;
}

export async function startKirin(options: KirinOptions): Promise<Server> {
  const stateDir = join(benchTempDir('kirin-bench-state-'), 'state');
  const args = [KIRIN_BIN, 'serve'];
  if (options.app) args.push(options.app);
  if (options.config) args.push('--config', options.config);
  args.push(
    '--workers', String(options.workers),
    '--bind', `127.0.0.1:${options.port}`,
    '--access-log', options.accessLog,
    '--state-dir', stateDir,
    ...(options.extraArgs ?? []),
  );
  const proc = launch({ name: options.name, command: NODE, args, cpu: options.cpu, cwd: options.cwd, env: { NODE_ENV: 'production', ...options.env } });
  await proc.waitForLine((line) => line.includes('"msg":"ready:'), 30_000, 'the ready line');
  await waitForPort('127.0.0.1', options.port, 5_000, proc);
  return serverOf(proc, `http://127.0.0.1:${options.port}/`);
}
