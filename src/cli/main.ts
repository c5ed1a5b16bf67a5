/**
 * Command dispatch. Each command lives in its own module, loaded on demand so
 * `kirin status` does not pay for what `kirin serve` needs.
 */
import { closest } from '../config/issues.ts';
import { ExitCode } from '../errors.ts';
import { VERSION } from '../version.ts';
import { reportCliError } from './report-error.ts';

type CommandModule = { run(args: string[]): Promise<number> };

export const COMMANDS: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {
  serve: { summary: 'run the app server (master and workers)', load: () => import('./serve.ts') },
  dev: { summary: 'development server: restart on save, error page, browser reload', load: () => import('./dev.ts') },
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
  ddns: { summary: 'DDNS: status, or update --once now (names → this machine)', load: () => import('./ddns.ts') },
  deploy: { summary: 'ship a release to your server over SSH (deploy setup prepares it)', load: () => import('./deploy.ts') },
  rollback: { summary: 'switch back to the previous (or a named) release', load: () => import('./rollback.ts') },
  releases: { summary: 'list the releases on each host', load: () => import('./releases.ts') },
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
    const near = closest(name, Object.keys(COMMANDS));
    process.stderr.write(near ? `kirin: unknown command "${name}" (did you mean "${near}"?)\n` : `kirin: unknown command "${name}"\n\n${USAGE}`);
    return ExitCode.USAGE;
  }
  try {
    return await (await command.load()).run(rest);
  } catch (error) {
    return reportCliError(error);
  }
}
