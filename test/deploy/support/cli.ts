/** Runs the built `kirin` command like a user in a terminal-less shell (CI): output as plain lines. */
import { spawn, type ChildProcess } from 'node:child_process';
import { KIRIN_BIN } from '../../support/kirin.ts';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr together, in order. */
  output: string;
}

export interface CliRun {
  child: ChildProcess;
  done: Promise<CliResult>;
  /** Everything printed so far. */
  output(): string;
}

export function startCli(args: string[], cwd: string): CliRun {
  const env: NodeJS.ProcessEnv = { ...process.env, CI: 'true' };
  delete env.NODE_TEST_CONTEXT;
  // A process group of its own, so a test can end the command and the ssh it started.
  const child = spawn(process.execPath, [KIRIN_BIN, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => ((stdout += c), (output += c)));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => ((stderr += c), (output += c)));
  const done = new Promise<CliResult>((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr, output })));
  return { child, done, output: () => output };
}

export function cli(args: string[], cwd: string): Promise<CliResult> {
  return startCli(args, cwd).done;
}
