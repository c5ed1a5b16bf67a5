/**
 * One host during a deploy command: its SSH connection, its folders, and the
 * one way remote output reaches the screen — each line prefixed by the host.
 */
import { KirinError } from '../errors.ts';
import type { HostSpec } from './host-spec.ts';
import { HostLayout } from './layout.ts';
import type { Progress } from './progress.ts';
import { FACT_PREFIX } from './shell.ts';
import { lastLine } from './ssh-errors.ts';
import { SshHost, type RemoteResult } from './ssh.ts';

export interface RunOptions {
  /** Bytes for the script's stdin (an env file); never echoed. */
  input?: Buffer | string;
  /** Keep the script's output off the screen (its facts are read, not shown). */
  quiet?: boolean;
  /** What the script does, for --verbose timings (default: its first words). */
  what?: string;
}

export class Host {
  readonly ssh: SshHost;
  readonly layout: HostLayout;
  readonly #progress: Progress;

  constructor(spec: HostSpec, root: string, sshConfig: string | null, progress: Progress) {
    this.ssh = new SshHost(spec, sshConfig);
    this.layout = new HostLayout(root);
    this.#progress = progress;
  }

  get label(): string {
    return this.ssh.label;
  }

  /** Times work on this host (a remote command, an upload) for --verbose. */
  async timed<T>(what: string, work: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await work();
    } finally {
      this.#progress.timing(this.label, what, performance.now() - started);
    }
  }

  /** Runs a script; its output lines appear prefixed by the host unless `quiet`. `what` names it in --verbose timings. */
  run(script: string, options: RunOptions = {}): Promise<RemoteResult> {
    return this.timed(options.what ?? firstWords(script), () =>
      this.ssh.run(script, {
        input: options.input,
        onLine: options.quiet ? undefined : (line, stream) => {
          if (!line.startsWith(FACT_PREFIX)) this.#progress.remote(this.label, line, stream);
        },
      }),
    );
  }

  /** Runs a script and throws `<host>: <what> failed …` with its last line of output when it fails. */
  async must(script: string, what: string, options: Omit<RunOptions, 'what'> = {}): Promise<RemoteResult> {
    const result = await this.run(script, { ...options, what });
    if (result.code !== 0) throw new KirinError('KIRIN_ERR_DEPLOY', `${this.label}: ${what} failed (exit ${result.code}): ${lastLine(result.stderr) || lastLine(result.stdout) || 'no output'}`);
    return result;
  }
}

function firstWords(script: string): string {
  const line = script.trimStart().split('\n')[0]!;
  return line.length > 60 ? `${line.slice(0, 57)}…` : line;
}
