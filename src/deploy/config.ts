/**
 * The `deploy` section of kirin.config.*: what a person writes, and the
 * validated `DeployPlan` the deploy commands run from. `kirin serve` ignores
 * this section; the deploy commands read it from the same file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, posix, resolve } from 'node:path';
import {
  checkKeys,
  ConfigPath,
  isPlainObject,
  Issues,
  readBoolean,
  readDuration,
  readInteger,
  readString,
  readStringArray,
} from '../config/issues.ts';
import { KirinError } from '../errors.ts';
import { parseHostSpec, type HostSpec } from './host-spec.ts';

export interface DeployConfig {
  /** One or more `user@host[:port]`, or names from ~/.ssh/config. */
  hosts: string | string[];
  /** The app's folder on the host. Default `/srv/<name>` (name from package.json). */
  path?: string;
  /** Releases kept on the host (the current one included). Default 5. */
  keep?: number;
  /** A local command run before the upload, e.g. `'npm run build'`. */
  build?: string;
  /** Paths not uploaded (rsync patterns), on top of .git, node_modules and .env files. */
  exclude?: string[];
  /** Paths that live across releases (uploads/, a SQLite file): kept in shared/ and linked into each release. */
  shared?: string[];
  /** A local env file uploaded 0600 next to the release; the release sees it as `.env`. Never printed. */
  env?: string;
  /**
   * Commands run on the host in the new release's folder. afterInstall: on
   * every host, before the release is checked (collectstatic, files the
   * release needs); beforeSwitch: once, on the first host unless perHost
   * (migrations); afterSwitch: after the health gate.
   */
  hooks?: { afterInstall?: string[]; beforeSwitch?: HookConfig[]; afterSwitch?: HookConfig[] };
  /** A path on the first site that must answer after the switch. Default `'/'`. */
  healthPath?: string;
  /** How long the health gate waits for the new release. Default 30 s. */
  healthTimeout?: number | string;
  /** Switch hosts one by one instead of all at once. Default false. */
  rolling?: boolean;
  /** An ssh config file used instead of ~/.ssh/config (`ssh -F`). */
  sshConfig?: string;
}

/** A shell command, or one that runs on every host (`perHost: true`) instead of the first only. */
export type HookConfig = string | { run: string; perHost?: boolean };

export const HOOK_PHASES = ['afterInstall', 'beforeSwitch', 'afterSwitch'] as const;
export type HookPhase = (typeof HOOK_PHASES)[number];

export interface Hook {
  run: string;
  perHost: boolean;
}

export interface DeployPlan {
  /** The app's name: package.json's name, else the project folder's. */
  name: string;
  /** The local project folder (the config file's folder). */
  projectDir: string;
  /** The config file's name inside a release (kirin.config.ts). */
  configName: string;
  hosts: HostSpec[];
  /** Absolute POSIX path on the host. */
  path: string;
  keep: number;
  build: string | null;
  exclude: string[];
  shared: string[];
  /** The shared paths written as folders (`'uploads/'`): created empty in shared/ when missing. */
  sharedFolders: string[];
  /** Absolute local path of the env file, or null. */
  envFile: string | null;
  hooks: Record<HookPhase, Hook[]>;
  healthPath: string | null;
  healthTimeoutMs: number;
  rolling: boolean;
  /** Absolute local path of the ssh config file, or null for ssh's own lookup. */
  sshConfig: string | null;
}

const KEYS = ['hosts', 'path', 'keep', 'build', 'exclude', 'shared', 'env', 'hooks', 'healthPath', 'healthTimeout', 'rolling', 'sshConfig'] as const;

/** Reads `deploy` from the raw config; throws a ConfigError naming the file and key path. */
export function normalizeDeploy(raw: unknown, file: string): DeployPlan {
  const issues = new Issues(file);
  const at = new ConfigPath(['deploy']);
  const projectDir = dirname(file);
  const config = isPlainObject(raw) ? raw.deploy : undefined;
  if (config === undefined) {
    throw new KirinError('KIRIN_ERR_DEPLOY', `${file} has no deploy section; add one, e.g. deploy: { hosts: ['deploy@203.0.113.7'] } (docs/deploy.md)`);
  }
  const name = appName(projectDir);
  const plan: DeployPlan = {
    name,
    projectDir,
    configName: basename(file),
    hosts: [],
    path: `/srv/${name}`,
    keep: 5,
    build: null,
    exclude: [],
    shared: [],
    sharedFolders: [],
    envFile: null,
    hooks: { afterInstall: [], beforeSwitch: [], afterSwitch: [] },
    healthPath: null,
    healthTimeoutMs: 30_000,
    rolling: false,
    sshConfig: null,
  };
  if (!isPlainObject(config)) {
    issues.expected(at, "{ hosts: ['user@host'], … }", config);
    issues.throwIfAny();
    return plan;
  }
  checkKeys(config, KEYS, at, issues);

  const hosts = readStringArray(config.hosts, at.key('hosts'), issues, "a host or a list of hosts like 'deploy@203.0.113.7' or 'deploy@example.com:2222'") ?? [];
  if (config.hosts !== undefined && hosts.length === 0) issues.add(at.key('hosts'), 'is empty: name at least one host');
  hosts.forEach((spec, i) => {
    const host = parseHostSpec(spec);
    if (typeof host === 'string') issues.add(at.key('hosts').key(i), `${host}; got ${JSON.stringify(spec)}`);
    else plan.hosts.push(host);
  });
  const labels = plan.hosts.map((h) => h.label);
  const twice = labels.find((label, i) => labels.indexOf(label) !== i);
  if (twice) issues.add(at.key('hosts'), `names ${twice} twice`);

  if (config.path !== undefined) {
    const path = readString(config.path, at.key('path'), issues, "an absolute folder on the host, like '/srv/myapp'");
    if (path !== undefined) {
      if (!path.startsWith('/')) issues.add(at.key('path'), `must be absolute on the host (start with /); got ${JSON.stringify(path)}`);
      else if (posix.normalize(path) === '/' || /[\s'"\\$`]/.test(path)) issues.add(at.key('path'), `must be a folder of its own without spaces or quotes, like '/srv/${name}'; got ${JSON.stringify(path)}`);
      else plan.path = posix.normalize(path).replace(/\/$/, '');
    }
  }
  if (config.keep !== undefined) plan.keep = readInteger(config.keep, at.key('keep'), issues, 2, 100) ?? plan.keep;
  if (config.build !== undefined) plan.build = readString(config.build, at.key('build'), issues, "a command line, like 'npm run build'") ?? null;
  if (config.exclude !== undefined) plan.exclude = readStringArray(config.exclude, at.key('exclude'), issues, "a list of rsync patterns, like ['/tmp/', '*.log']") ?? [];
  if (config.shared !== undefined) {
    const shared = readStringArray(config.shared, at.key('shared'), issues, "a list of paths in the app, like ['uploads/', 'db.sqlite3']") ?? [];
    shared.forEach((path, i) => {
      const clean = posix.normalize(path);
      if (isAbsolute(path) || clean.startsWith('..') || clean === '.' || /[\s'"\\$`*?[]/.test(path)) {
        issues.add(at.key('shared').key(i), `expected a plain path inside the app, like 'uploads/' or 'db.sqlite3'; got ${JSON.stringify(path)}`);
      } else {
        plan.shared.push(clean.replace(/\/$/, ''));
        if (path.endsWith('/')) plan.sharedFolders.push(clean.replace(/\/$/, ''));
      }
    });
  }
  if (config.env !== undefined) {
    const env = readString(config.env, at.key('env'), issues, "a local env file, like '.env.production'");
    if (env !== undefined) {
      plan.envFile = resolve(projectDir, env);
      if (!existsSync(plan.envFile)) issues.add(at.key('env'), `${plan.envFile} does not exist`);
    }
  }
  if (config.hooks !== undefined) plan.hooks = readHooks(config.hooks, at.key('hooks'), issues);
  if (config.healthPath !== undefined) {
    const path = readString(config.healthPath, at.key('healthPath'), issues, "a path like '/up'");
    if (path !== undefined && !path.startsWith('/')) issues.add(at.key('healthPath'), `must start with /; got ${JSON.stringify(path)}`);
    else if (path !== undefined) plan.healthPath = path;
  }
  if (config.healthTimeout !== undefined) plan.healthTimeoutMs = readDuration(config.healthTimeout, at.key('healthTimeout'), issues) ?? plan.healthTimeoutMs;
  if (config.rolling !== undefined) plan.rolling = readBoolean(config.rolling, at.key('rolling'), issues) ?? false;
  if (config.sshConfig !== undefined) {
    const sshConfig = readString(config.sshConfig, at.key('sshConfig'), issues, 'an ssh config file');
    if (sshConfig !== undefined) {
      plan.sshConfig = resolve(projectDir, sshConfig);
      if (!existsSync(plan.sshConfig)) issues.add(at.key('sshConfig'), `${plan.sshConfig} does not exist`);
    }
  }
  checkStateDir(isPlainObject(raw) ? raw.stateDir : undefined, plan, issues);
  issues.throwIfAny();
  return plan;
}

/**
 * The state folder holds the running master's control socket: inside the app
 * folder it would be uploaded anew with each release, so after the switch
 * `kirin reload` through `current` would look in the new release and never
 * find the Kirin that serves. Inside a shared path it lives across releases.
 */
function checkStateDir(stateDir: unknown, plan: DeployPlan, issues: Issues): void {
  if (typeof stateDir !== 'string') return;
  // Where it lands on the host: a relative stateDir is read from current/<config file>.
  const onHost = isAbsolute(stateDir) ? posix.normalize(stateDir) : posix.join(plan.path, 'current', stateDir);
  const [top, ...rest] = posix.relative(plan.path, onHost).split('/');
  if (top !== 'current' && top !== 'releases') return;
  const withinRelease = (top === 'releases' ? rest.slice(1) : rest).join('/');
  if (plan.shared.some((path) => withinRelease === path || withinRelease.startsWith(`${path}/`))) return;
  issues.add(
    new ConfigPath(['stateDir']),
    `${JSON.stringify(stateDir)} lies inside the app folder, which kirin deploy uploads as a new release each time: the control socket of the Kirin that serves would stay behind in the old release, and \`kirin reload\` after the switch would not find it. Remove stateDir (Kirin's default state folder lies outside the app: ~/.local/state/kirin/… of the deploy user, /var/lib/${plan.name} under systemd), or set an absolute folder outside ${plan.path}/current and ${plan.path}/releases`,
  );
}

function readHooks(raw: unknown, at: ConfigPath, issues: Issues): DeployPlan['hooks'] {
  const hooks: DeployPlan['hooks'] = { afterInstall: [], beforeSwitch: [], afterSwitch: [] };
  if (!isPlainObject(raw)) {
    issues.expected(at, "{ afterInstall: ['…'], beforeSwitch: ['…'], afterSwitch: ['…'] }", raw);
    return hooks;
  }
  checkKeys(raw, HOOK_PHASES, at, issues);
  for (const phase of HOOK_PHASES) {
    if (raw[phase] === undefined) continue;
    const list = Array.isArray(raw[phase]) ? raw[phase] : [raw[phase]];
    list.forEach((item: unknown, i: number) => {
      const itemAt = at.key(phase).key(i);
      if (typeof item === 'string' && item.trim()) hooks[phase].push({ run: item, perHost: false });
      else if (isPlainObject(item)) {
        checkKeys(item, ['run', 'perHost'], itemAt, issues);
        const run = readString(item.run, itemAt.key('run'), issues, 'a command line');
        const perHost = item.perHost === undefined ? false : (readBoolean(item.perHost, itemAt.key('perHost'), issues) ?? false);
        if (run) hooks[phase].push({ run, perHost });
      } else issues.expected(itemAt, "a command line, or { run: '…', perHost: true }", item);
    });
  }
  return hooks;
}

/** package.json's name without its scope, else the folder's name; made safe for paths and unit names. */
export function appName(projectDir: string): string {
  let name = basename(projectDir);
  const manifest = join(projectDir, 'package.json');
  if (existsSync(manifest)) {
    try {
      const parsed = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown };
      if (typeof parsed.name === 'string' && parsed.name) name = parsed.name.replace(/^@[^/]+\//, '');
    } catch {
      // A broken package.json is npm's to report; the folder name will do here.
    }
  }
  return name.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '') || 'app';
}
