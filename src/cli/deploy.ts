/**
 * `kirin deploy [--dry-run] [--unlock]` and `kirin deploy setup [--as USER]`.
 */
import { parseHostSpec } from '../deploy/host-spec.ts';
import { deploy } from '../deploy/deploy.ts';
import { healthTargets } from '../deploy/health-gate.ts';
import { Host } from '../deploy/host.ts';
import { forceUnlock } from '../deploy/lock.ts';
import { Progress } from '../deploy/progress.ts';
import { setupHost } from '../deploy/setup.ts';
import { ExitCode, KirinError } from '../errors.ts';
import { commandLine, loadDeployConfig } from './deploy-args.ts';
import { CONFIG_OPTION, parseOpsArgs, VERBOSE_OPTION } from './ops-args.ts';

export const DEPLOY_HELP = `Usage: kirin deploy [options]
       kirin deploy setup [--as USER] [options]

Ships this app to the hosts in the config's deploy section over SSH: build
here, upload what changed (rsync), install, check, switch \`current\`, reload
Kirin, health gate, prune. A failure before the switch leaves the serving
release untouched; a release that fails after it is switched back.

\`kirin deploy setup\` prepares the hosts (idempotent): Node, rsync, the user,
the folders, the service.

Options:
  -c, --config FILE  config file (default: kirin.config.{ts,mts,js,mjs,json} here)
      --dry-run      print the plan, change nothing
      --unlock       free a stale deploy lock on every host, then stop
      --verbose      also print how long each remote command took
      --as USER      (setup) log in as USER (root, or a sudoer) to create the
                     deploy user and folders; the hosts' user is the deploy user
  -h, --help         this help

Docs: docs/deploy.md
`;

export async function run(argv: string[]): Promise<number> {
  const setup = argv[0] === 'setup';
  const { values } = parseOpsArgs(
    setup ? argv.slice(1) : argv,
    { ...CONFIG_OPTION, ...VERBOSE_OPTION, 'dry-run': { type: 'boolean' }, unlock: { type: 'boolean' }, as: { type: 'string' } },
    DEPLOY_HELP,
    0,
  );
  if (values.help) {
    process.stdout.write(DEPLOY_HELP);
    return ExitCode.OK;
  }
  if (values.as !== undefined && !setup) throw new KirinError('KIRIN_ERR_USAGE', `--as: only for \`kirin deploy setup\`\n\n${DEPLOY_HELP}`);
  const { plan, serve } = await loadDeployConfig(values.config, process.cwd(), DEPLOY_HELP);
  const progress = new Progress(process.stdout, process.env, { verbose: values.verbose === true });
  try {
    if (setup) {
      let changes = 0;
      let todos = 0;
      for (const spec of plan.hosts) {
        const login = values.as === undefined ? spec : parseHostSpec(`${values.as}@${spec.host}${spec.port ? `:${spec.port}` : ''}`);
        if (typeof login === 'string') throw new KirinError('KIRIN_ERR_USAGE', `--as: ${login}`);
        if (values.as !== undefined && spec.user === null) throw new KirinError('KIRIN_ERR_USAGE', `--as: the host ${spec.label} names no deploy user; write it as user@host in deploy.hosts`);
        const outcome = await setupHost(plan, spec, login, healthTargets(serve, plan.healthPath), progress);
        changes += outcome.items.filter((i) => i.state === 'changed').length;
        todos += outcome.items.filter((i) => i.state === 'todo').length;
      }
      if (todos > 0) progress.line(`setup: ${todos} thing${todos === 1 ? '' : 's'} left to do (marked !); run setup again when done`);
      else progress.line(changes === 0 ? 'setup: nothing to change; every host is ready for kirin deploy' : `setup: ${changes} change${changes === 1 ? '' : 's'} made; every host is ready for kirin deploy`);
      return todos > 0 ? ExitCode.FAILURE : ExitCode.OK;
    }
    if (values.unlock) {
      for (const spec of plan.hosts) {
        const host = new Host(spec, plan.path, plan.sshConfig, progress);
        try {
          await host.ssh.connect();
          progress.line(await forceUnlock(host));
        } finally {
          host.ssh.close();
        }
      }
      return ExitCode.OK;
    }
    return await deploy(plan, serve, progress, { dryRun: values['dry-run'] === true, commandLine: commandLine('deploy', argv) });
  } finally {
    progress.close();
  }
}
