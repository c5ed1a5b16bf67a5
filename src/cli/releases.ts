/** `kirin releases [--json]` — the releases on each host, and which is current. */
import { showReleases } from '../deploy/list.ts';
import { Progress } from '../deploy/progress.ts';
import { ExitCode } from '../errors.ts';
import { loadDeployConfig } from './deploy-args.ts';
import { CONFIG_OPTION, parseOpsArgs } from './ops-args.ts';

const HELP = `Usage: kirin releases [options]

Lists, per host, the releases kept on it: id, git commit (+ when uncommitted
changes were deployed), time, who deployed it, Kirin's version; * marks the
current one.

Options:
  -c, --config FILE  config file (default: kirin.config.{ts,mts,js,mjs,json} here)
      --json         print JSON
  -h, --help         this help
`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseOpsArgs(argv, { ...CONFIG_OPTION, json: { type: 'boolean' } }, HELP, 0);
  if (values.help) {
    process.stdout.write(HELP);
    return ExitCode.OK;
  }
  const { plan } = await loadDeployConfig(values.config, process.cwd(), HELP);
  const progress = new Progress(process.stdout);
  try {
    return await showReleases(plan, progress, values.json === true);
  } finally {
    progress.close();
  }
}
