/**
 * `kirin serve [PATH[:EXPORT]] [options]` — run the master and its workers.
 */
import { resolve } from 'node:path';
import { findConfigFile, loadConfigFile, readEnvFiles } from '../config/load.ts';
import { normalizeConfig } from '../config/normalize.ts';
import type { ServePlan } from '../config/plan.ts';
import { checkServedFiles } from '../config/served-files.ts';
import { ExitCode, KirinError } from '../errors.ts';
import { Master, type MasterOptions, type MasterSignal } from '../master/master.ts';
import { SystemdNotifier, takeActivatedSockets, type ActivatedSockets } from '../master/systemd.ts';
import { createLogger } from '../observe/log.ts';
import { warmCompileCache } from '../handlers/app/compile-cache.ts';
import { attachMasterExtensions } from '../master/extensions.ts';
import { parseCommandLine, type Options } from './args.ts';
import { reportCliError } from './report-error.ts';
import { resolveServeTarget } from './serve-target.ts';

export const SERVE_HELP = `Usage: kirin serve [PATH[:EXPORT]] [options]

Serves PATH (a fetch handler or Node listener module, .ts or .js) for every
host, or the sites of kirin.config.ts when no PATH is given. PATH may be a
folder: its kirin.config.* is served, else its package.json "main".

Options:
  -c, --config FILE            config file (default: kirin.config.{ts,mts,js,mjs,json} here)
  -w, --workers N              worker processes (default: $WEB_CONCURRENCY, else one per CPU)
  -b, --bind ADDR              listen address, repeatable: 127.0.0.1:8000, :80, [::1]:8000,
                               unix:/run/app.sock (default 127.0.0.1:8000, or 0.0.0.0:$PORT)
      --timeout SECONDS        kill a worker blocked this long (default 30; 0 = never)
      --graceful-timeout SECONDS
                               time to finish in-flight requests on stop/reload (default 30)
      --sticky                 Socket.IO across workers: sessions stick to their worker,
                               broadcasts reach every worker (no Redis needed)
      --max-requests N         recycle a worker after N requests (default 0 = never)
      --max-requests-jitter J  add up to J to each worker's max-requests
      --max-memory MB          recycle a worker whose memory exceeds MB
      --access-log FILE|-|off  access log destination (default -, stdout)
      --log-level LEVEL        debug, info, warn, error (default info)
      --pid FILE               write the master's PID here
      --state-dir DIR          control socket and certificates (default: per project)
      --env-file FILE          load variables from FILE (repeatable; set ones win)
      --header-timeout SECONDS time to receive request headers (default 10)
      --request-timeout SECONDS
                               time to receive a whole request (default 60)
      --keep-alive-timeout SECONDS
                               idle keep-alive connections close after (default 5)
      --max-body SIZE          largest request body, e.g. 10mb (default 10mb)
      --trusted-proxy CIDR     believe X-Forwarded-* from this peer (repeatable)
      --admin ADDR|off         admin listener: health, metrics, dashboard
                               (default 127.0.0.1:9180; a token is needed off loopback)
  -h, --help                   this help
`;

export const SERVE_OPTIONS = {
  config: { type: 'string', short: 'c' },
  workers: { type: 'string', short: 'w' },
  bind: { type: 'string', short: 'b', multiple: true },
  timeout: { type: 'string' },
  'graceful-timeout': { type: 'string' },
  sticky: { type: 'boolean' },
  'max-requests': { type: 'string' },
  'max-requests-jitter': { type: 'string' },
  'max-memory': { type: 'string' },
  'access-log': { type: 'string' },
  'log-level': { type: 'string' },
  pid: { type: 'string' },
  'state-dir': { type: 'string' },
  'env-file': { type: 'string', multiple: true },
  'header-timeout': { type: 'string' },
  'request-timeout': { type: 'string' },
  'keep-alive-timeout': { type: 'string' },
  'max-body': { type: 'string' },
  'trusted-proxy': { type: 'string', multiple: true },
  admin: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface ServeArgs {
  app: string | undefined;
  configFile: string | null;
  overrides: Record<string, unknown>;
  /** What a folder given as PATH resolved to, said once at start. */
  note?: string | null;
}

/** The command that reads the serve flags: `serve`, or `dev` with a few of its own (cli/dev.ts). */
export interface ServeCommand<T extends Options> {
  name: string;
  help: string;
  options: T;
}

const SERVE: ServeCommand<typeof SERVE_OPTIONS> = { name: 'serve', help: SERVE_HELP, options: SERVE_OPTIONS };

export function parseServeArgs(argv: string[], cwd: string): ServeArgs | 'help' {
  const parsed = parseServeFlags(argv, cwd, SERVE);
  return parsed === 'help' ? 'help' : parsed.args;
}

/** The serve flags into config overrides, and every flag's value for the command's own. */
export function parseServeFlags<T extends typeof SERVE_OPTIONS>(argv: string[], cwd: string, command: ServeCommand<T>): { args: ServeArgs; flags: Record<string, unknown> } | 'help' {
  const parsed = parseCommandLine(argv, command.options, command.help, 1);
  const values = parsed.values as unknown as ParsedServeFlags;
  const positionals = parsed.positionals;
  if (values.help) return 'help';
  const overrides: Record<string, unknown> = {};
  const limits: Record<string, unknown> = {};
  if (values.workers !== undefined) overrides.workers = integer('--workers', values.workers, 1);
  if (values.bind !== undefined) overrides.listen = { http: values.bind };
  if (values.timeout !== undefined) overrides.timeout = seconds('--timeout', values.timeout);
  if (values.sticky) overrides.sticky = true;
  if (values['graceful-timeout'] !== undefined) overrides.gracefulTimeout = seconds('--graceful-timeout', values['graceful-timeout']);
  if (values['max-requests'] !== undefined) overrides.maxRequests = integer('--max-requests', values['max-requests'], 0);
  if (values['max-requests-jitter'] !== undefined) overrides.maxRequestsJitter = integer('--max-requests-jitter', values['max-requests-jitter'], 0);
  if (values['max-memory'] !== undefined) overrides.maxMemory = `${integer('--max-memory', values['max-memory'], 1)}mb`;
  if (values['access-log'] !== undefined) overrides.accessLog = values['access-log'] === 'off' ? false : values['access-log'] === '-' ? '-' : resolve(cwd, values['access-log']);
  if (values['log-level'] !== undefined) overrides.logLevel = values['log-level'];
  if (values.pid !== undefined) overrides.pidFile = resolve(cwd, values.pid);
  if (values['state-dir'] !== undefined) overrides.stateDir = resolve(cwd, values['state-dir']);
  if (values['env-file'] !== undefined) overrides.envFiles = values['env-file'].map((f) => resolve(cwd, f));
  if (values['trusted-proxy'] !== undefined) overrides.trustedProxies = values['trusted-proxy'];
  if (values.admin !== undefined) overrides.admin = values.admin === 'off' ? false : { listen: values.admin };
  if (values['header-timeout'] !== undefined) limits.headerTimeout = seconds('--header-timeout', values['header-timeout']);
  if (values['request-timeout'] !== undefined) limits.requestTimeout = seconds('--request-timeout', values['request-timeout']);
  if (values['keep-alive-timeout'] !== undefined) limits.keepAliveTimeout = seconds('--keep-alive-timeout', values['keep-alive-timeout']);
  if (values['max-body'] !== undefined) limits.maxBody = values['max-body'];
  if (Object.keys(limits).length > 0) overrides.limits = limits;
  let configFile: string | null = values.config === undefined ? null : resolve(cwd, values.config);
  const target = positionals[0] === undefined ? null : resolveServeTarget(positionals[0], cwd, configFile !== null);
  if (target?.configFile) configFile = target.configFile;
  if (target === null && configFile === null) {
    configFile = findConfigFile(cwd);
    if (configFile === null) {
      throw new KirinError('KIRIN_ERR_USAGE', `nothing to serve: give an app (kirin ${command.name} app.ts) or create kirin.config.ts in ${cwd}\n\n${command.help}`);
    }
  }
  return { args: { app: target?.app, configFile, overrides, note: target?.note ?? null }, flags: values as unknown as Record<string, unknown> };
}

type ParsedServeFlags = ReturnType<typeof parseCommandLine<typeof SERVE_OPTIONS>>['values'];

function integer(flag: string, value: string, min: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min) throw new KirinError('KIRIN_ERR_USAGE', `${flag}: expected a whole number >= ${min}, got "${value}"`);
  return n;
}

function seconds(flag: string, value: string): number | string {
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value);
  if (/^\d+(\.\d+)?(ms|s|m|h)$/.test(value)) return value;
  throw new KirinError('KIRIN_ERR_USAGE', `${flag}: expected seconds (30) or a duration (500ms, 30s, 5m), got "${value}"`);
}

/** Loads the config (file, flags, environment, systemd sockets) into a plan and the workers' environment. */
export async function buildPlan(args: ServeArgs, cwd: string, baseEnv: NodeJS.ProcessEnv, activated: ActivatedSockets | null, signal?: AbortSignal): Promise<{ plan: ServePlan; env: NodeJS.ProcessEnv }> {
  const raw = args.configFile ? await loadConfigFile(args.configFile, signal) : {};
  const plan = normalizeConfig({ raw, file: args.configFile, cwd, app: args.app, overrides: args.overrides, env: baseEnv });
  checkServedFiles(plan);
  if (activated) plan.listen = { http: activated.http, https: activated.https };
  const { env: fromFiles } = readEnvFiles(plan.envFiles, baseEnv);
  await warmCompileCache(plan, signal);
  return { plan, env: withProductionDefault({ ...baseEnv, ...fromFiles }) };
}

/**
 * `kirin serve` is production: NODE_ENV=production for the app (and services)
 * unless the user set NODE_ENV (the shell, systemd, an env file). Without it,
 * Express shows its development error page, with stacks, to the internet.
 */
function withProductionDefault(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (env.NODE_ENV === undefined) env.NODE_ENV = 'production';
  return env;
}

export async function run(argv: string[]): Promise<number> {
  const cwd = process.cwd();
  const args = parseServeArgs(argv, cwd);
  if (args === 'help') {
    process.stdout.write(SERVE_HELP);
    return ExitCode.OK;
  }
  const baseEnv: NodeJS.ProcessEnv = { ...process.env };
  const activated = takeActivatedSockets(baseEnv);
  const faultOnSignal = takeLoopFault(baseEnv);
  return runMaster({ args, cwd, baseEnv, activated, faultOnSignal });
}

export interface MasterRun {
  args: ServeArgs;
  cwd: string;
  baseEnv: NodeJS.ProcessEnv;
  activated: ActivatedSockets | null;
  faultOnSignal?: MasterSignal | null;
  /** Changes every plan built, the first and each reload's (kirin dev marks it dev). */
  adjustPlan?: (plan: ServePlan) => void;
  /** Wraps how workers are started (kirin dev keeps a spare one ready). */
  wrapSpawner?: MasterOptions['wrapSpawner'];
  /** Called before the master starts (kirin dev attaches its watcher) and once it serves. */
  attach?: (master: Master) => void;
  started?: (master: Master) => void;
}

/** Builds the plan, starts the master and its extensions, and resolves with the exit code once it stops. */
export async function runMaster(run: MasterRun): Promise<number> {
  const { args, cwd, baseEnv, activated } = run;
  const bootLogger = createLogger({ level: 'info', role: 'master' });
  const notifier = new SystemdNotifier(baseEnv, bootLogger);
  if (args.note) bootLogger.info(args.note);
  const load = async (signal?: AbortSignal) => {
    const loaded = await buildPlan(args, cwd, baseEnv, activated, signal);
    run.adjustPlan?.(loaded.plan);
    return loaded;
  };
  let loaded: { plan: ServePlan; env: NodeJS.ProcessEnv };
  try {
    loaded = await load();
  } catch (error) {
    return reportCliError(error);
  }
  const logger = createLogger({ level: loaded.plan.logLevel, role: 'master' });
  const master = new Master({
    plan: loaded.plan,
    env: loaded.env,
    logger,
    notifier,
    loadPlan: load,
    faultOnSignal: run.faultOnSignal ?? null,
    wrapSpawner: run.wrapSpawner,
  });
  attachMasterExtensions(master);
  run.attach?.(master);
  try {
    await master.start();
  } catch (error) {
    if (error instanceof KirinError && (error.code === 'KIRIN_ERR_APP_LOAD' || error.code === 'KIRIN_ERR_BOOT' || error.code === 'KIRIN_ERR_APP_EXPORT')) {
      // The worker's error with its stack, logged once; no respawning a broken app.
      logger.fatal({ stack: error.detail }, `could not start: ${error.message}`);
      return error.exitCode ?? ExitCode.FAILURE;
    }
    return reportCliError(error);
  }
  run.started?.(master);
  return master.stopped;
}

/**
 * KIRIN_TEST_LOOP_FAULT=SIGUSR1 makes the master's loop throw when it handles
 * that signal. Only the end-to-end tests set it: the catch-all around the loop
 * exists for bugs, and a bug cannot be summoned on purpose otherwise. Taken out
 * of the environment so workers and services never see it.
 */
function takeLoopFault(env: NodeJS.ProcessEnv): MasterSignal | null {
  const value = env.KIRIN_TEST_LOOP_FAULT;
  delete env.KIRIN_TEST_LOOP_FAULT;
  return value === 'SIGHUP' || value === 'SIGUSR1' || value === 'SIGTTIN' || value === 'SIGTTOU' ? value : null;
}
