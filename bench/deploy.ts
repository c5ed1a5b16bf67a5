/**
 * `kirin deploy` timed, next to the seeds' way, on the same app and host.
 *
 * The host is a real OpenSSH server in a network namespace on this machine
 * (test/deploy/support/test-host.ts); the app has about 50 MB of
 * node_modules (Kirin's dependencies and TypeScript). Timed:
 *
 *   Kirin:  first deploy, a no-change redeploy, a one-file change under load,
 *           a rollback under load
 *   seeds:  rsync --exclude + ssh `npm ci` + restart (stop, start), for the
 *           first deploy and the one-file change under load
 *
 * Targets: one-file deploy < 10 s, rollback < 3 s, zero failed requests in
 * both. Run: node bench/deploy.ts (after npm run build; as root).
 */
import { spawn } from 'node:child_process';
import { describeLoad, startLoad, type LoadReport } from './lib/load.ts';
import { APP_SOURCE, createApp, npmCacheFor } from '../test/deploy/support/app.ts';
import { cli } from '../test/deploy/support/cli.ts';
import { startTestHost } from '../test/deploy/support/test-host.ts';
import { request } from '../test/support/http.ts';
import { waitFor } from '../test/support/kirin.ts';
import { shellQuote } from '../src/deploy/shell.ts';

interface Row {
  way: string;
  step: string;
  seconds: number;
  failures: string;
  note: string;
}

const rows: Row[] = [];
const host = await startTestHost();
try {
  const app = createApp({
    name: 'bench-app',
    dependencies: { typescript: '^7.0.2' },
    deploy: { hosts: [host.spec], path: host.path, sshConfig: host.sshConfig, healthTimeout: 30 },
  });
  const cache = npmCacheFor(app.dir);
  const { giveNpmCache } = await import('../test/deploy/support/test-host.ts');
  giveNpmCache(host.user, cache);

  const kirinUrl = `http://${host.address}:8000/`;
  const timed = async (step: string, args: string[], underLoad: string | null) => {
    const load = underLoad ? startLoad({ url: underLoad, concurrency: 20 }) : null;
    if (load) await load.waitForRequests(200);
    console.error(`kirin: ${step} …`);
    const started = performance.now();
    const result = await cli([...args, '--verbose'], app.dir);
    const seconds = (performance.now() - started) / 1000;
    if (result.code !== 0) throw new Error(`${args.join(' ')} failed:\n${result.output}`);
    // Where the time went: each step and each remote command (--verbose).
    console.error(result.output.replace(/^/gm, '    '));
    const report = load ? await settle(load) : null;
    const upload = /upload: (\d+ of \d+ files sent \([^)]*\))/.exec(result.output)?.[1] ?? '';
    rows.push({ way: 'kirin deploy', step, seconds, failures: report ? `${report.failures} of ${report.requests}` : '-', note: upload });
    if (report && report.failures) console.error(describeLoad(report));
  };
  await timed('first deploy (npm ci, start)', ['deploy'], null);
  const size = host.exec(`du -sm ${host.path}/current/node_modules/ | cut -f1`).trim();
  await timed('no-change redeploy', ['deploy'], kirinUrl);
  app.write('app.js', APP_SOURCE('v2'));
  await timed('one-file change', ['deploy'], kirinUrl);
  await timed('rollback', ['rollback'], kirinUrl);

  // The seeds' way on the same app: a deploy folder updated in place, npm ci there, the service restarted.
  const seedsDir = `${host.path}-seeds`;
  // The pid file, log and state live beside the deploy folder: rsync --delete would remove them from inside it.
  const runDir = `${host.path}-seeds-run`;
  host.exec(`mkdir -p ${seedsDir} ${runDir} && chown ${host.user}: ${seedsDir} ${runDir}`);
  const serve = `cd ${seedsDir} && NODE_ENV=production setsid node node_modules/kirin/dist/cli/bin.js serve --config kirin.config.json --bind 0.0.0.0:8001 --admin 127.0.0.1:9181 --state-dir ${runDir}/state --pid ${runDir}/kirin.pid >> ${runDir}/kirin.log 2>&1 < /dev/null &`;
  const restart = [
    'set -e',
    `cd ${seedsDir}`,
    'npm ci --omit=dev --no-audit --no-fund --prefer-offline >/dev/null',
    // systemctl restart: stop, wait for the exit, start.
    `if [ -f ${runDir}/kirin.pid ]; then pid=$(cat ${runDir}/kirin.pid); kill -TERM $pid; while kill -0 $pid 2>/dev/null; do sleep 0.1; done; fi`,
    serve,
  ].join('\n');
  const seedsDeploy = async (step: string, version: string, underLoad: boolean) => {
    const load = underLoad ? startLoad({ url: `http://${host.address}:8001/`, concurrency: 20 }) : null;
    if (load) await load.waitForRequests(200);
    console.error(`seeds: ${step} …`);
    const started = performance.now();
    await run('rsync', ['-a', '--delete', '--stats', '--exclude=/.git/', '--exclude=/node_modules/', '--exclude=/.env*', '-e', `ssh -F ${host.sshConfig}`, `${app.dir}/`, `${host.spec}:${seedsDir}/`]);
    await run('ssh', ['-F', host.sshConfig, '-n', host.spec, `sh -c ${shellQuote(restart)}`]);
    // The restart is done when the new Kirin answers.
    await waitFor(() => request(`http://${host.address}:8001/`, { agent: false }).then((r) => r.body === version, () => false), { timeoutMs: 60_000, intervalMs: 100, what: `the restarted Kirin serving ${version}` });
    const seconds = (performance.now() - started) / 1000;
    const report = load ? await settle(load) : null;
    rows.push({ way: "the seeds' way", step, seconds, failures: report ? `${report.failures} of ${report.requests}` : '-', note: report ? failureKinds(report) : '' });
  };
  app.write('app.js', APP_SOURCE('v1'));
  await seedsDeploy('first deploy (npm ci, start)', 'v1', false);
  app.write('app.js', APP_SOURCE('v2'));
  await seedsDeploy('one-file change (npm ci, restart)', 'v2', true);

  console.log(`\nbench/deploy.ts — app with ${size} MB of node_modules, host in a network namespace over a veth pair, 20 keep-alive connections during the timed steps\n`);
  const table = [['WAY', 'STEP', 'TIME', 'FAILED REQUESTS', 'NOTE'], ...rows.map((r) => [r.way, r.step, `${r.seconds.toFixed(1)} s`, r.failures, r.note])];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  for (const row of table) console.log(`| ${row.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`);
  const oneFile = rows.find((r) => r.way === 'kirin deploy' && r.step === 'one-file change')!;
  const rollback = rows.find((r) => r.step === 'rollback')!;
  console.log(`\ntargets: one-file deploy < 10 s: ${oneFile.seconds < 10 ? 'met' : 'MISSED'}; rollback < 3 s: ${rollback.seconds < 3 ? 'met' : 'MISSED'}; zero failed requests: ${oneFile.failures.startsWith('0 ') && rollback.failures.startsWith('0 ') ? 'met' : 'MISSED'}`);
} finally {
  await host.stop();
}

async function settle(load: ReturnType<typeof startLoad>): Promise<LoadReport> {
  await load.waitForRequests(load.snapshot().requests + 200);
  return load.stop();
}

function failureKinds(report: LoadReport): string {
  return report.failures ? `refused ${report.refused}, resets ${report.resets}, non-2xx ${report.non2xx}, timeouts ${report.timeouts}` : '';
}

function run(file: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${file} exited ${code}: ${stderr}`))));
  });
}
