/**
 * Loading the config the way `kirin serve` does — same file lookup, same
 * normalizer, same env files — and turning what would stop `serve` into K001
 * findings instead of an exception.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ConfigError, isPlainObject, problemWhere, type ConfigProblem } from '../../config/issues.ts';
import { loadConfigFile, parseEnvText } from '../../config/load.ts';
import { normalizeConfig } from '../../config/normalize.ts';
import { keyAndFlag } from '../../config/serve-flags.ts';
import type { ServePlan } from '../../config/plan.ts';
import { servedFileProblems } from '../../config/served-files.ts';
import type { ServeArgs } from '../../cli/serve.ts';
import { KirinError } from '../../errors.ts';
import type { CommandRunner } from '../command-runner.ts';
import { finding, type Finding } from './catalog.ts';
import type { AuditContext, EnvFileFacts } from './context.ts';
import type { HostFacts } from './host-facts.ts';

export interface AuditInput {
  args: ServeArgs;
  cwd: string;
  deploy: boolean;
  /** The environment `kirin check` runs in. */
  env: NodeJS.ProcessEnv;
  host: HostFacts;
  run: CommandRunner;
}

export async function loadAuditContext(input: AuditInput): Promise<{ context: AuditContext; findings: Finding[] }> {
  const findings: Finding[] = [];
  const file = input.args.configFile;
  const baseDir = file ? dirname(file) : input.cwd;
  const unit = input.host.unit;
  const baseEnv: Record<string, string | undefined> = unit ? { ...unit.environment } : { ...input.env };

  let raw: Record<string, unknown> | null = null;
  if (file) {
    try {
      const loaded = await loadConfigFile(file);
      raw = isPlainObject(loaded) ? loaded : {};
    } catch (error) {
      if (!(error instanceof KirinError)) throw error;
      findings.push(finding('K001', error.message, 'fix the config file so that it loads: `kirin serve` would stop here', file));
    }
  } else raw = {};

  let plan: ServePlan | null = null;
  if (raw !== null) {
    try {
      plan = normalizeConfig({ raw, file, cwd: input.cwd, app: input.args.app, overrides: input.args.overrides, env: baseEnv as NodeJS.ProcessEnv });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      for (const problem of error.problems) findings.push(configFinding(problem, error.file, `change ${problemWhere(problem)}${problem.flag ? '' : ` in ${error.file}`}`));
    }
  }
  // What would stop `kirin serve` before its workers start: a missing app module or static root.
  for (const problem of plan ? servedFileProblems(plan) : []) {
    findings.push(configFinding(problem, file ?? 'command line', `create it, or change ${problem.path}${file ? ` in ${file}` : ''} to the path it has`));
  }

  const loadedPaths = plan ? plan.envFiles : rawEnvFiles(raw, baseDir);
  const envFiles: EnvFileFacts[] = loadedPaths.map((path) => ({ path, vars: readEnvFile(path), loaded: true }));
  for (const envFile of envFiles) {
    if (envFile.vars === null) findings.push(finding('K001', `${keyAndFlag('envFiles')}: cannot read ${envFile.path}`, 'create the file or remove it from envFiles (and let the service user read it)', envFile.path));
  }
  // The unit's EnvironmentFile= lines reach the app as well (kirin install writes one per config env file).
  for (const path of unit?.environmentFiles ?? []) {
    if (!loadedPaths.includes(path)) envFiles.push({ path, vars: readEnvFile(path), loaded: true });
  }
  const allLoaded = envFiles.map((f) => f.path);
  for (const path of siblingEnvFiles(baseDir)) {
    if (!allLoaded.includes(path)) envFiles.push({ path, vars: readEnvFile(path), loaded: false });
  }

  const env: Record<string, string | undefined> = {};
  for (const envFile of envFiles) if (envFile.loaded && envFile.vars) Object.assign(env, envFile.vars);
  for (const [key, value] of Object.entries(baseEnv)) if (value !== undefined) env[key] = value;

  const context: AuditContext = {
    plan,
    raw,
    configFile: file,
    baseDir,
    deploy: input.deploy,
    baseEnv,
    envSource: unit ? unit.path : 'the environment',
    envFiles,
    env,
    host: input.host,
    run: input.run,
    notes: [],
  };
  return { context, findings };
}

function configFinding(problem: ConfigProblem, file: string, fix: string): Finding {
  return finding('K001', `${problemWhere(problem)}: ${problem.message}`, fix, problem.flag ? problemWhere(problem) : `${file}: ${problem.path}`);
}

function rawEnvFiles(raw: Record<string, unknown> | null, baseDir: string): string[] {
  const list = raw?.envFiles;
  const items = typeof list === 'string' ? [list] : Array.isArray(list) ? list : [];
  return items.filter((f): f is string => typeof f === 'string' && f.length > 0).map((f) => resolve(baseDir, f));
}

function readEnvFile(path: string): Record<string, string> | null {
  try {
    return parseEnvText(readFileSync(path, 'utf8'));
  } catch {
    return null;
  }
}

// Templates meant to be committed and full of placeholders.
const TEMPLATE_SUFFIXES = ['.example', '.sample', '.template', '.dist', '.defaults', '.tmpl'];

/** `.env`, `.env.production`, … beside the config; never the committed templates. */
export function siblingEnvFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isFile() && (e.name === '.env' || e.name.startsWith('.env.')))
      .map((e) => e.name);
  } catch {
    return [];
  }
  return names
    .filter((name) => !TEMPLATE_SUFFIXES.some((suffix) => name.endsWith(suffix)))
    .sort()
    .map((name) => join(dir, name));
}
