/**
 * Command dispatch. Each command lives in its own module, loaded on demand so
 * `kirin status` does not pay for what `kirin serve` needs.
 */
import { ExitCode, KirinError } from '../errors.ts';
import { VERSION } from '../version.ts';

type CommandModule = { run(args: string[]): Promise<number> };

export const COMMANDS: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {
  serve: { summary: 'run the app server (master and workers)', load: () => import('./serve.ts') },
  status: { summary: 'show the workers of a running Kirin', load: () => import('./status.ts') },
  reload: { summary: 'zero-downtime reload of config and code', load: () => import('./reload.ts') },
  stop: { summary: 'graceful stop', load: () => import('./stop.ts') },
  'hash-password': { summary: 'hash a password for a route\'s auth.users', load: () => import('./hash-password.ts') },
  certs: { summary: 'list certificates; certs renew NAME renews one now', load: () => import('./certs.ts') },
  trust: { summary: 'trust the local CA (https for localhost sites)', load: () => import('./trust.ts') },
  check: { summary: 'audit the deployment (--deploy for production checks)', load: () => import('./check.ts') },
  secret: { summary: 'print a new random secret (SECRET_KEY, admin.token)', load: () => import('./secret.ts') },
  install: { summary: 'write a systemd service for this config', load: () => import('./install.ts') },
  export: { summary: 'write Docker, Compose or Kubernetes files', load: () => import('./export.ts') },
  relay: { summary: 'relay init --vps HOST: reach a home server through a VPS (WireGuard)', load: () => import('./relay.ts') },
};

export const USAGE = `Kirin ${VERSION} — run a JavaScript/TypeScript web app in production on a machine you own.

Usage: kirin <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(14)}${c.summary}`)
  .join('\n')}

Run \`kirin <command> --help\` for a command's options. Docs: docs/cli.md
`;

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE);
    return name === undefined ? ExitCode.USAGE : ExitCode.OK;
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    process.stdout.write(`${VERSION}\n`);
    return ExitCode.OK;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`kirin: unknown command "${name}"\n\n${USAGE}`);
    return ExitCode.USAGE;
  }
  try {
    return await (await command.load()).run(rest);
  } catch (error) {
    return reportCliError(error);
  }
}

/** Prints an error the way a user can act on: the message, no stack, unless it is a bug. */
export function reportCliError(error: unknown): number {
  if (error instanceof KirinError) {
    process.stderr.write(`kirin: ${error.message}\n`);
    return error.code === 'KIRIN_ERR_USAGE' ? ExitCode.USAGE : (error.exitCode ?? ExitCode.FAILURE);
  }
  process.stderr.write(`kirin: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`);
  return ExitCode.FAILURE;
}
