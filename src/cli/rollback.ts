/** `kirin rollback [RELEASE]` — switch back to the previous (or a named) release. */
import { Progress } from '../deploy/progress.ts';
import { rollback } from '../deploy/rollback.ts';
import { ExitCode } from '../errors.ts';
import { commandLine, loadDeployConfig } from './deploy-args.ts';
import { CONFIG_OPTION, parseOpsArgs, VERBOSE_OPTION } from './ops-args.ts';

const HELP = `Usage: kirin rollback [RELEASE] [options]

Points \`current\` on every host back at the previous release (or RELEASE, an
id from \`kirin releases\`) and reloads Kirin: no upload, no npm install. The
health gate guards it as it guards a deploy. Database migrations are not
reverted.

Options:
  -c, --config FILE  config file (default: kirin.config.{ts,mts,js,mjs,json} here)
      --verbose      also print how long each remote command took
  -h, --help         this help
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOpsArgs(argv, { ...CONFIG_OPTION, ...VERBOSE_OPTION }, HELP);
  if (values.help) {
    process.stdout.write(HELP);
    return ExitCode.OK;
  }
  const { plan, serve } = await loadDeployConfig(values.config, process.cwd(), HELP);
  const progress = new Progress(process.stdout, process.env, { verbose: values.verbose === true });
  try {
    return await rollback(plan, serve, positionals[0] ?? null, progress, commandLine('rollback', argv));
  } finally {
    progress.close();
  }
}
