/**
 * `kirin dev [PATH[:EXPORT]] [options]` — the development server: the same
 * config and master as `kirin serve`, one worker, loopback only, a restart on
 * every save, the error page and browser reload (src/dev/). Never for the
 * internet: the error page shows source code and requests.
 */
import type { DevPlan, ServePlan } from '../config/plan.ts';
import { ExitCode } from '../errors.ts';
import { isLoopback } from '../net/ip.ts';
import { DevSession } from '../dev/master.ts';
import { KEYS_HINT, listenForKeys, openBrowser } from '../dev/keys.ts';
import { StandbySpawner } from '../dev/standby.ts';
import type { Master } from '../master/master.ts';
import { parseServeFlags, runMaster, SERVE_HELP, SERVE_OPTIONS } from './serve.ts';

const SERVE_FLAGS = SERVE_HELP.slice(SERVE_HELP.indexOf('Options:\n') + 'Options:\n'.length);

export const DEV_HELP = `Usage: kirin dev [PATH[:EXPORT]] [options]

Runs PATH (or kirin.config.ts) for development: the same config as
\`kirin serve\`, one worker on 127.0.0.1, restarted when a file the app loads,
the config, an env file or a static root changes (requests during a restart
are answered, never refused). An app that fails shows the error page; HTML
pages reload in the browser after a restart. Sets NODE_ENV=development.
Keys on a terminal: r restart, o open in the browser, q quit. Never expose it
to the internet. Docs: docs/dev.md

Options of kirin dev:
      --poll                   watch by polling (for mounts where file events do
                               not arrive; turned on by itself on NFS, SMB, 9p, FUSE)
      --no-reload-browser      do not inject the browser-reload script
      --bind-https ADDR        HTTPS listen address for the config's TLS sites,
                               repeatable (default 127.0.0.1:8443; only when a
                               site has TLS: local names, tls: 'local' or files)

Options shared with kirin serve (dev defaults: --workers 1, --bind
127.0.0.1:8000 or 127.0.0.1:$PORT, --admin off, --timeout 0; the config's
listen is replaced by these):
${SERVE_FLAGS}`;

const DEV_OPTIONS = {
  ...SERVE_OPTIONS,
  poll: { type: 'boolean' },
  'no-reload-browser': { type: 'boolean' },
  'bind-https': { type: 'string', multiple: true },
} as const;

/** Where dev serves the config's TLS sites when --bind-https does not say: loopback, an unprivileged port. */
const DEV_HTTPS = '127.0.0.1:8443';

export async function run(argv: string[]): Promise<number> {
  const cwd = process.cwd();
  const parsed = parseServeFlags(argv, cwd, { name: 'dev', help: DEV_HELP, options: DEV_OPTIONS });
  if (parsed === 'help') {
    process.stdout.write(DEV_HELP);
    return ExitCode.OK;
  }
  const { args, flags } = parsed;
  const baseEnv: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'development' };
  const overrides = args.overrides;
  overrides.workers ??= 1;
  // Loopback unless --bind says otherwise: the error page shows code and requests. An https listener is
  // offered so the config's TLS sites keep their TLS (HTTPS parity); it is dropped again when no site has TLS.
  const bindHttps = flags['bind-https'] as string[] | undefined;
  overrides.listen = {
    http: (overrides.listen as { http?: string[] } | undefined)?.http ?? [`127.0.0.1:${baseEnv.PORT ?? 8000}`],
    https: bindHttps ?? [DEV_HTTPS],
  };
  overrides.admin ??= false;
  // No watchdog: a request paused in a debugger is not a hung worker (and an idle dev server then costs nothing).
  overrides.timeout ??= 0;
  const dev: DevPlan = { reloadBrowser: flags['no-reload-browser'] !== true };
  /** Sites whose `tls: 'auto'` the local CA serves in dev, said once at start. */
  const byLocalCa = new Set<string>();
  let session: DevSession | null = null;
  let standby: StandbySpawner | null = null;
  let stopKeys: (() => void) | null = null;
  return runMaster({
    args,
    cwd,
    baseEnv,
    activated: null,
    adjustPlan: (plan) => {
      plan.dev = dev;
      adjustTlsForDev(plan, byLocalCa);
    },
    wrapSpawner: (spawner) => (standby = new StandbySpawner(spawner)).spawner,
    attach: (master) => {
      session = new DevSession(master, { poll: flags.poll === true });
      warnIfReachable(master);
      if (byLocalCa.size > 0) {
        master.logger.info(`kirin dev serves ${[...byLocalCa].map((k) => `"${k}"`).join(', ')} with certificates from the local CA instead of ACME (a CA on the internet cannot reach a dev server on loopback)`);
      }
      master.once('finishing', () => {
        stopKeys?.();
        standby?.close();
      });
    },
    started: (master) => {
      const url = master.status().listeners[0] ?? '';
      stopKeys = listenForKeys({
        restart: () => session?.restart('r pressed'),
        open: () => openBrowser(url, (reason) => master.logger.warn(`could not open a browser (${reason}); visit ${url}`)),
        quit: () => master.stop('fast'),
      });
      if (stopKeys) master.logger.info(KEYS_HINT);
    },
  });
}

/**
 * The config's TLS sites keep TLS in dev, as `kirin serve` would serve them: local names and
 * `tls: 'local'` from the local CA, files as they are. ACME ('auto') cannot validate a server on
 * loopback and would spend the CA's rate limits on failed orders: the local CA stands in for it.
 * Without any TLS site, the https listener dev offered is not opened.
 */
function adjustTlsForDev(plan: ServePlan, byLocalCa: Set<string>): void {
  for (const site of plan.sites) {
    if (site.tls.mode !== 'auto') continue;
    site.tls = { mode: 'local' };
    byLocalCa.add(site.key);
  }
  if (plan.sites.every((site) => site.tls.mode === 'off')) plan.listen.https = [];
}

function warnIfReachable(master: Master): void {
  const plan = master.plan;
  const open = [...plan.listen.http, ...plan.listen.https].filter((a) => a.kind === 'tcp' && (a.host === '' || !isLoopback(a.host)));
  if (open.length === 0) return;
  master.logger.warn(
    `kirin dev listens on ${open.map((a) => a.spec).join(', ')}, reachable from other machines: its error page shows source code and request headers. Never expose kirin dev to the internet; use kirin serve there`,
  );
}
