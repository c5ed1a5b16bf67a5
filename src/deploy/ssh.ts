/**
 * Talking to a host through the system's OpenSSH client, so ~/.ssh/config, the
 * agent and known_hosts apply as they do for `ssh` in a terminal. One master
 * connection per host (ControlMaster) carries every command and the rsync
 * upload: a deploy pays for one handshake, not one per step.
 *
 * Host keys are always checked (BatchMode only stops ssh from asking).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { KirinError } from '../errors.ts';
import { forEachLine } from '../util/lines.ts';
import { sshDestination, type HostSpec } from './host-spec.ts';
import { explainSshFailure, lastLine } from './ssh-errors.ts';
import { shellQuote } from './shell.ts';

export interface RemoteResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Bytes for the command's stdin (an env file); never echoed. */
  input?: Buffer | string;
  /** Each line of output as it comes. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
}

const CONNECT_TIMEOUT_S = 10;
// A dead peer is noticed within 15 s instead of TCP's minutes.
const KEEPALIVE = ['-o', 'ServerAliveInterval=5', '-o', 'ServerAliveCountMax=3'];
const MAX_CAPTURE = 1024 * 1024;

export class SshHost {
  readonly spec: HostSpec;
  readonly #sshConfig: string | null;
  readonly #controlDir: string;
  #master: ReturnType<typeof spawn> | null = null;

  constructor(spec: HostSpec, sshConfig: string | null) {
    this.spec = spec;
    this.#sshConfig = sshConfig;
    // Unix socket paths are short: a folder of its own under the system temp folder.
    this.#controlDir = mkdtempSync(join(tmpdir(), 'kirin-ssh-'));
  }

  get label(): string {
    return this.spec.label;
  }

  /** ssh's options for commands that ride the master connection, without the destination. */
  options(): string[] {
    return [...this.#baseOptions(), '-o', 'ControlMaster=no'];
  }

  #baseOptions(): string[] {
    return [
      ...(this.#sshConfig ? ['-F', this.#sshConfig] : []),
      ...(this.spec.port ? ['-p', String(this.spec.port)] : []),
      '-o', 'BatchMode=yes',
      '-o', `ConnectTimeout=${CONNECT_TIMEOUT_S}`,
      ...KEEPALIVE,
      '-o', `ControlPath=${join(this.#controlDir, 'c')}`,
    ];
  }

  /** The `ssh …` command rsync runs (-e). */
  rsyncShell(): string {
    return ['ssh', ...this.options()].map(shellQuote).join(' ');
  }

  /** Opens the master connection; throws a DeployError that says why it could not. */
  async connect(): Promise<void> {
    if (this.#master) return;
    const socket = join(this.#controlDir, 'c');
    const args = [...this.#baseOptions(), '-o', 'ControlMaster=yes', '-N', sshDestination(this.spec)];
    const master = spawn('ssh', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#master = master;
    let stderr = '';
    master.stderr!.setEncoding('utf8');
    master.stderr!.on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<number>((resolve) => master.once('exit', (code) => resolve(code ?? 255)));
    master.once('error', () => {});
    const deadline = Date.now() + (CONNECT_TIMEOUT_S + 20) * 1000;
    for (;;) {
      const state = await Promise.race([exited.then((code) => ({ code })), delay(50).then(() => null)]);
      if (state) {
        this.#master = null;
        await flush(master.stderr!);
        throw sshError(this.label, stderr, state.code);
      }
      if (existsSync(socket)) return;
      if (Date.now() > deadline) {
        master.kill('SIGTERM');
        this.#master = null;
        throw new KirinError('KIRIN_ERR_DEPLOY', `${this.label}: no SSH connection after ${CONNECT_TIMEOUT_S + 20} s${stderr ? ` (${lastLine(stderr)})` : ''}`);
      }
    }
  }

  /** Runs a POSIX sh script on the host. Resolves with its exit code; rejects only when ssh itself fails. */
  run(script: string, options: RunOptions = {}): Promise<RemoteResult> {
    const args = [...this.options(), sshDestination(this.spec), `sh -c ${shellQuote(script)}`];
    return new Promise((resolve, reject) => {
      const child = spawn('ssh', args, { stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
      const out = { stdout: '', stderr: '' };
      for (const stream of ['stdout', 'stderr'] as const) {
        const readable = child[stream]!;
        readable.setEncoding('utf8');
        readable.on('data', (chunk: string) => {
          if (out[stream].length < MAX_CAPTURE) out[stream] += chunk;
        });
        if (options.onLine) forEachLine(readable, (line) => options.onLine!(line, stream));
      }
      if (options.input !== undefined) {
        child.stdin!.on('error', () => {});
        child.stdin!.end(options.input);
      }
      child.once('error', (error) => reject(new KirinError('KIRIN_ERR_DEPLOY', `cannot run ssh: ${error.message}; install the OpenSSH client`)));
      child.once('close', (code) => {
        const exit = code ?? 255;
        if (exit === 255) {
          const explained = explainSshFailure(this.label, out.stderr);
          if (explained) return reject(new KirinError('KIRIN_ERR_DEPLOY', explained));
        }
        resolve({ code: exit, ...out });
      });
    });
  }

  /** Closes the master connection and removes its socket folder. */
  close(): void {
    const master = this.#master;
    this.#master = null;
    if (master && master.exitCode === null) master.kill('SIGTERM');
    rmSync(this.#controlDir, { recursive: true, force: true });
  }
}

export function sshError(label: string, stderr: string, code: number): KirinError {
  return new KirinError('KIRIN_ERR_DEPLOY', explainSshFailure(label, stderr) ?? `${label}: ssh failed (exit ${code}): ${lastLine(stderr) || 'no output'}`);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function flush(stream: Readable): Promise<void> {
  return new Promise((resolve) => (stream.readableEnded ? resolve() : stream.once('end', () => resolve())));
}
