/**
 * Running the deploy audit on a throw-away project with facts chosen by the
 * test: a user, CPUs, a clock, captured firewall output — never this machine's.
 */
import { chmodSync, existsSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runAudit, type AuditReport } from '../../src/ops/check/audit.ts';
import type { CheckId } from '../../src/ops/check/catalog.ts';
import type { HostFacts } from '../../src/ops/check/host-facts.ts';
import { runCommand, type CommandResult, type CommandRunner } from '../../src/ops/command-runner.ts';
import { generateSecret } from '../../src/ops/secret.ts';
import { tempDir, writeFiles } from '../support/kirin.ts';

export const FIXTURES = join(fileURLToPath(new URL('.', import.meta.url)), 'fixtures');

export function fixture(name: string): string {
  return readFileSync(join(FIXTURES, name), 'utf8');
}

/** A config with nothing to report: public name, HTTPS, e-mail, static files in ./public, secrets in .env. */
export function goodConfig(): Record<string, unknown> {
  return {
    envFiles: ['.env'],
    listen: { http: [':80'], https: [':443'] },
    tls: { email: 'admin@example.com' },
    sites: { 'example.com': { '/static/': { static: './public' }, '/': { app: './app.ts' } } },
  };
}

export const STRONG_SECRET = generateSecret(64);

export function goodEnvFile(extra = ''): string {
  return `NODE_ENV=production\nSECRET_KEY=${STRONG_SECRET}\n${extra}`;
}

export function goodHost(overrides: Partial<HostFacts> = {}): HostFacts {
  return {
    processUid: 1000,
    processCanBindLowPorts: true,
    unprivilegedPortStart: 1024,
    cpus: 4,
    memoryBytes: 8 * 1024 ** 3,
    now: Date.parse('2026-01-01T00:00:00Z'),
    unit: null,
    ...overrides,
  };
}

export type FakeCommands = Record<string, (args: readonly string[]) => CommandResult | null>;

/** Answers from `fake` for the programs it names; git really runs (in the temp project); anything else is "not installed". */
export function fakeRunner(fake: FakeCommands = {}): CommandRunner {
  return async (file, args, options) => {
    if (fake[file]) return fake[file](args);
    if (file === 'git') return runCommand(file, args, options);
    return null;
  };
}

export function ok(stdout: string): CommandResult {
  return { code: 0, stdout, stderr: '' };
}

export interface ProjectOptions {
  config?: Record<string, unknown> | string;
  /** Files besides the config; default: .env (mode 600), app.ts, public/style.css. */
  files?: Record<string, string>;
  /** Replace the default files entirely. */
  replaceFiles?: boolean;
  modes?: Record<string, number>;
  symlinks?: Record<string, string>;
  env?: NodeJS.ProcessEnv;
  host?: Partial<HostFacts>;
  commands?: FakeCommands;
  deploy?: boolean;
  ignore?: CheckId[];
}

export function makeProject(options: ProjectOptions = {}): string {
  const dir = tempDir('kirin-check-');
  const config = options.config ?? goodConfig();
  const defaults = { '.env': goodEnvFile(), 'app.ts': 'export default { fetch: () => new Response("ok") };\n', 'public/style.css': 'body {}\n' };
  writeFiles(dir, {
    'kirin.config.json': typeof config === 'string' ? config : JSON.stringify(config, null, 2),
    ...(options.replaceFiles ? {} : defaults),
    ...options.files,
  });
  if (existsSync(join(dir, '.env'))) chmodSync(join(dir, '.env'), 0o600);
  for (const [path, mode] of Object.entries(options.modes ?? {})) chmodSync(join(dir, path), mode);
  for (const [path, target] of Object.entries(options.symlinks ?? {})) symlinkSync(target, join(dir, path));
  return dir;
}

export async function audit(options: ProjectOptions = {}, dir = makeProject(options)): Promise<AuditReport> {
  return runAudit(
    {
      args: { app: undefined, configFile: join(dir, 'kirin.config.json'), overrides: {} },
      cwd: dir,
      deploy: options.deploy ?? true,
      env: options.env ?? {},
      host: goodHost(options.host),
      run: fakeRunner(options.commands),
    },
    options.ignore,
  );
}

export function ids(report: AuditReport): string[] {
  return report.findings.map((f) => f.id);
}
