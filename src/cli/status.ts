/** `kirin status` — the master and its workers, for people or (--json) machines. */
import { ExitCode } from '../errors.ts';
import type { MasterStatus } from '../master/master.ts';
import { formatDuration } from '../util/duration.ts';
import { parseControlArgs, sendToMaster } from './control-args.ts';

const USAGE = `Usage: kirin status [--json] [--state-dir DIR] [--config FILE] [--unit-dir DIR]

Shows the running master and, per worker: pid, generation, state, uptime,
memory (RSS), requests served, open WebSockets and restarts. Exit 1 when Kirin is not running.
Without --state-dir or a config here, it finds the Kirin \`kirin install\` set
up (units in --unit-dir, default /etc/systemd/system) when there is one.
`;

export async function run(argv: string[]): Promise<number> {
  const { args } = await parseControlArgs(argv, USAGE, { installed: true });
  if (args.help) {
    process.stdout.write(USAGE);
    return ExitCode.OK;
  }
  const status = (await sendToMaster(args, 'status', {}, 10_000)) as MasterStatus;
  process.stdout.write(args.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
  return ExitCode.OK;
}

export function formatStatus(status: MasterStatus): string {
  const lines = [
    `Kirin master pid ${status.pid}, generation ${status.generation}, up ${formatDuration(Date.now() - status.startedAt)}, ${status.workers.length}/${status.targetWorkers} workers`,
    `listening: ${status.listeners.join(', ')}`,
    `config: ${status.configFile ?? '(command line)'}; reloads: ${status.reloads}`,
    '',
  ];
  const rows = [['WORKER', 'PID', 'GEN', 'STATE', 'UPTIME', 'RSS', 'REQUESTS', 'WEBSOCKETS', 'RESTARTS']];
  for (const w of status.workers) {
    rows.push([String(w.index), String(w.pid), String(w.generation), w.state, formatDuration(w.uptimeMs), `${(w.rss / 1024 / 1024).toFixed(0)} MB`, String(w.served), String(w.websockets ?? 0), String(w.restarts)]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const row of rows) lines.push(row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd());
  const restarts = Object.entries(status.restarts).filter(([, n]) => n > 0);
  if (restarts.length) lines.push('', `restarts: ${restarts.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  if (status.services.length) {
    lines.push('', 'SERVICE  PID  STATE  RESTARTS  UPSTREAM');
    for (const s of status.services) lines.push(`${s.name}  ${s.pid ?? '-'}  ${s.state}  ${s.restarts}  ${s.upstream}`);
  }
  return `${lines.join('\n')}\n`;
}

