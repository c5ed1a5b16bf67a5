/**
 * `kirin check [--deploy] [--json] [--strict] [--ignore ID]` — the deploy audit.
 */
import { ExitCode, KirinError } from '../errors.ts';
import { auditFailed, runAudit } from '../ops/check/audit.ts';
import { CHECK_IDS, type CheckId } from '../ops/check/catalog.ts';
import { readHostFacts } from '../ops/check/host-facts.ts';
import { formatReportJson, formatReportText } from '../ops/check/report.ts';
import { runCommand } from '../ops/command-runner.ts';
import { DEFAULT_UNIT_DIR } from '../ops/systemd/installed-unit.ts';
import { CONFIG_OPTION, parseOpsArgs, resolveServeArgs } from './ops-args.ts';

export const CHECK_HELP = `Usage: kirin check [PATH[:EXPORT]] [options]

Audits what \`kirin serve\` would run: the config, the environment and env
files, static roots, the user and ports, certificates and the firewall. Each
finding has an ID (K001 …), a severity, the thing to change and a section in
docs/checks.md. Exits 1 when there are errors.

Options:
  -c, --config FILE   config file (default: kirin.config.{ts,mts,js,mjs,json} here)
      --deploy        add the production checks (NODE_ENV, secrets, TLS, HSTS, root,
                      ports, workers, certificates, firewall)
      --json          print one JSON object instead of text
      --strict        fail on warnings too
      --ignore ID     skip a check, e.g. --ignore K019 (repeatable)
      --unit-dir DIR  where to look for the systemd unit (default ${DEFAULT_UNIT_DIR})
  -h, --help          this help
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOpsArgs(
    argv,
    { ...CONFIG_OPTION, deploy: { type: 'boolean' }, json: { type: 'boolean' }, strict: { type: 'boolean' }, ignore: { type: 'string', multiple: true }, 'unit-dir': { type: 'string' } },
    CHECK_HELP,
  );
  if (values.help) {
    process.stdout.write(CHECK_HELP);
    return ExitCode.OK;
  }
  const ignore = (values.ignore ?? []).flatMap((v) => v.split(',')).map((v) => v.trim().toUpperCase());
  const unknown = ignore.filter((id) => !(CHECK_IDS as string[]).includes(id));
  if (unknown.length > 0) throw new KirinError('KIRIN_ERR_USAGE', `--ignore: unknown check ${unknown.join(', ')}; the checks are ${CHECK_IDS[0]} to ${CHECK_IDS.at(-1)} (docs/checks.md)`);
  const cwd = process.cwd();
  const args = resolveServeArgs(values.config, positionals[0], cwd, CHECK_HELP);
  const report = await runAudit(
    { args, cwd, deploy: values.deploy === true, env: process.env, host: readHostFacts(args.configFile, values['unit-dir'] ?? DEFAULT_UNIT_DIR), run: runCommand },
    ignore as CheckId[],
  );
  const failed = auditFailed(report, values.strict === true);
  process.stdout.write(values.json ? formatReportJson(report, failed) : formatReportText(report, failed));
  return failed ? ExitCode.FAILURE : ExitCode.OK;
}
