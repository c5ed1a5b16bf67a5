/**
 * `kirin ddns status` — what the DDNS client last found and sent, per name.
 * `kirin ddns update --once` — one pass now (for cron): exit 1 when an update
 * failed or no address could be found, with the provider's reason.
 *
 * Both go through the running Kirin when there is one (it owns the state
 * file); otherwise `status` reads the state file and `update --once` runs the
 * same client in this process.
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { findConfigFile } from '../config/load.ts';
import { ExitCode, KirinError } from '../errors.ts';
import { isAlive, sendControl, CONTROL_SOCKET } from '../master/control.ts';
import { createLogger } from '../observe/log.ts';
import { credentialReader } from '../ddns/credentials.ts';
import { DDNS_COMMAND } from '../ddns/extension.ts';
import { createProvider } from '../ddns/providers/index.ts';
import { DdnsState } from '../ddns/state.ts';
import { DdnsUpdater, type CheckReport, type DdnsStatus } from '../ddns/updater.ts';
import { buildPlan } from './serve.ts';

const USAGE = `Usage: kirin ddns status [--json] [--config FILE] [--state-dir DIR]
       kirin ddns update --once [--force] [--json] [--config FILE] [--state-dir DIR]

status         the public addresses found, and per name the addresses sent, when,
               and the provider's last answer
update --once  check and send changed addresses now, then exit (for cron);
               exit 1 when an update failed or no address was found
  --force      send even unchanged addresses, and after a refusal that stopped
               updates (badauth, abuse …) once you fixed its cause

kirin serve keeps the names updated on its own when the config has a ddns
section (docs/ddns.md).
`;

const OPTIONS = {
  once: { type: 'boolean' },
  force: { type: 'boolean' },
  json: { type: 'boolean' },
  config: { type: 'string', short: 'c' },
  'state-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new KirinError('KIRIN_ERR_USAGE', `${(error as Error).message}\n\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return ExitCode.OK;
  }
  const [command, ...extra] = positionals;
  if ((command !== 'status' && command !== 'update') || extra.length > 0) throw new KirinError('KIRIN_ERR_USAGE', `expected "kirin ddns status" or "kirin ddns update --once"\n\n${USAGE}`);
  if (command === 'update' && !values.once) throw new KirinError('KIRIN_ERR_USAGE', `kirin ddns update: add --once (one pass, then exit; for cron). kirin serve keeps the names updated continuously\n\n${USAGE}`);
  if (command === 'status' && (values.once || values.force)) throw new KirinError('KIRIN_ERR_USAGE', `--once and --force go with "kirin ddns update"\n\n${USAGE}`);

  const cwd = process.cwd();
  const configFile = values.config ? resolve(cwd, values.config) : findConfigFile(cwd);
  if (!configFile) throw new KirinError('KIRIN_ERR_USAGE', `no kirin.config.* in ${cwd}; give --config FILE\n\n${USAGE}`);
  const overrides = values['state-dir'] ? { stateDir: resolve(cwd, values['state-dir']) } : {};
  const { plan } = await buildPlan({ app: undefined, configFile, overrides }, cwd, { ...process.env }, null);
  if (!plan.ddns) throw new KirinError('KIRIN_ERR_USAGE', `${configFile} has no ddns section: nothing to do (docs/ddns.md)`);
  const running = await isAlive(join(plan.stateDir, CONTROL_SOCKET));

  if (command === 'status') {
    const status = running ? ((await sendControl(plan.stateDir, DDNS_COMMAND, {}, 10_000)) as DdnsStatus | null) : null;
    const state = new DdnsState(plan.stateDir);
    const view = status ?? { provider: plan.ddns.provider.kind, target: '', intervalMs: plan.ddns.intervalMs, detection: null, checkedAt: null, nextCheckAt: null, names: plan.ddns.names.map((name) => ({ name, ...state.name(name) })), stopped: state.stopped, successes: 0, failures: {} };
    process.stdout.write(values.json ? `${JSON.stringify(view, null, 2)}\n` : formatDdnsStatus(view, running));
    return ExitCode.OK;
  }

  let report: CheckReport;
  if (running) {
    report = (await sendControl(plan.stateDir, DDNS_COMMAND, { update: true, force: values.force === true }, 120_000)) as CheckReport;
  } else {
    const logger = createLogger({ level: 'warn', role: 'ddns' });
    const state = new DdnsState(plan.stateDir);
    const updater = new DdnsUpdater({ plan: plan.ddns, provider: createProvider(plan.ddns.provider, credentialReader(plan.envFiles)), state, logger });
    try {
      report = await updater.check({ force: values.force === true });
    } finally {
      updater.stop();
    }
    if (report.skipped === 'stopped' && state.stopped) {
      process.stderr.write(`kirin: not sent: updates stopped on ${when(state.stopped.at)} because ${state.stopped.message}\nFix the cause, then run kirin ddns update --once --force\n`);
      return ExitCode.FAILURE;
    }
  }
  if (values.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(formatReport(report));
  const failed = report.results.some((r) => r.status !== 'updated') || (report.skipped === 'no address');
  if (failed) {
    for (const r of report.results.filter((r) => r.status !== 'updated')) process.stderr.write(`kirin: ${r.name}: ${r.message}\n`);
    if (report.skipped === 'no address') process.stderr.write(`kirin: no public address found: ${[report.detection.ipv4?.problem, report.detection.ipv6?.problem].filter(Boolean).join('; ')}\n`);
  }
  return failed ? ExitCode.FAILURE : ExitCode.OK;
}

function formatReport(report: CheckReport): string {
  const lines = addressLines(report.detection);
  if (report.results.length === 0) lines.push(report.skipped === 'unchanged' ? 'nothing sent: the addresses are unchanged' : report.skipped === 'backing off' ? 'nothing sent: waiting after a failed update (--force sends now)' : `nothing sent (${report.skipped})`);
  for (const r of report.results) lines.push(`${r.name}: ${r.status === 'updated' ? 'updated' : r.status === 'retry' ? 'failed, will retry' : 'refused'} (${r.code}): ${r.message}`);
  return `${lines.join('\n')}\n`;
}

function addressLines(detection: CheckReport['detection'] | null): string[] {
  if (!detection) return [];
  const lines: string[] = [];
  for (const [label, found] of [['IPv4', detection.ipv4], ['IPv6', detection.ipv6]] as const) {
    if (found) lines.push(`${label}: ${found.address ? `${found.address} (from ${found.source})` : `none: ${found.problem}`}`);
  }
  if (detection.reachability) lines.push(`reachability: ${detection.reachability.message}`);
  return lines;
}

export function formatDdnsStatus(status: DdnsStatus, running: boolean): string {
  const lines = [`provider: ${status.provider}${status.target ? ` (${status.target})` : ''}; ${running ? `checking every ${status.intervalMs / 60_000} min` : 'Kirin is not running: from the state file'}`];
  if (status.checkedAt) lines.push(`last check: ${when(status.checkedAt)}${status.nextCheckAt ? `, next: ${when(status.nextCheckAt)}` : ''}`);
  lines.push(...addressLines(status.detection), '');
  const rows = [['NAME', 'A', 'AAAA', 'LAST ANSWER', 'AT']];
  for (const n of status.names) rows.push([n.name, n.records.A?.address ?? '-', n.records.AAAA?.address ?? '-', n.last ? `${n.last.status} (${n.last.code})` : 'never sent', n.last ? when(n.last.at) : '-']);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const row of rows) lines.push(row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd());
  for (const n of status.names) if (n.last && n.last.status !== 'updated') lines.push(`${n.name}: ${n.last.message}`);
  if (status.stopped) lines.push('', `STOPPED since ${when(status.stopped.at)}: ${status.stopped.message}`, 'Fix the cause, then run kirin reload (or kirin ddns update --once --force).');
  return `${lines.join('\n')}\n`;
}

function when(ms: number): string {
  return `${new Date(ms).toISOString().replace('T', ' ').slice(0, 16)} UTC`;
}
