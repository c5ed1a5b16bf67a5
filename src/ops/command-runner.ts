/**
 * Running the system's tools (git, ufw, nft, useradd, systemd-analyze).
 *
 * The operations commands take a `CommandRunner` instead of calling
 * child_process themselves, so that tests can hand them captured output of a
 * real `ufw status verbose` without touching this machine's firewall.
 */
import { execFile } from 'node:child_process';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program; resolves null when it is not installed. */
export type CommandRunner = (file: string, args: readonly string[], options?: { cwd?: string }) => Promise<CommandResult | null>;

// ufw, nft and useradd live in sbin, which is not on a normal user's PATH.
const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

export const runCommand: CommandRunner = (file, args, options = {}) => {
  const path = [process.env.PATH ?? '', ...SBIN].filter(Boolean).join(':');
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { cwd: options.cwd, env: { ...process.env, PATH: path, LC_ALL: 'C' }, timeout: 10_000, maxBuffer: 8 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error && (error as NodeJS.ErrnoException).code === 'ENOENT') return resolve(null);
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
};
