/**
 * What one relayed connection costs the relay: Kirin's relay and HAProxy
 * (`mode tcp`, `req.ssl_sni`, `send-proxy-v2`) side by side in front of one
 * home Kirin, in the bench's network namespaces, and the relay's CPU time per
 * connection (new TLS connection per request) and per keep-alive request.
 * With --profile the Kirin relay's worker runs under V8's CPU profiler and
 * the functions with the most self time are printed. For deciding what to
 * optimise; bench/relay.ts is the bench.
 *
 * With --open-loop RATE --sched, each open-loop run also records CPU 0's scheduler (`perf sched`) and
 * prints the busiest tasks' delay from wakeup to running.
 *
 *   node bench/experiments/relay-cost.ts [--duration S] [--rounds N] [--profile] [--open-loop RATE [--sched]]   (root)
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { createRelayNetwork } from '../../test/support/netns.ts';
import { tempDir } from '../../test/support/kirin.ts';
import { processTicks } from '../lib/cpu.ts';
import { KIRIN_BIN, NODE } from '../lib/paths.ts';
import { writeHaproxyRelayConfig, writeHomeConfig, writeKirinRelayConfig } from '../lib/peers/relay-site.ts';
import { LOAD_CPU, SERVER_CPU } from '../lib/pin.ts';
import { launch, type Launched } from '../lib/process.ts';
import { descendants } from '../lib/rss.ts';
import { table } from '../lib/report.ts';
import { makeCertificate } from '../lib/tls-site.ts';
import { runWrk } from '../lib/wrk.ts';
import { runOpenLoop } from '../lib/open-loop.ts';

const run$ = promisify(execFile);
const { values } = parseArgs({ options: { duration: { type: 'string', default: '5' }, rounds: { type: 'string', default: '2' }, only: { type: 'string' }, profile: { type: 'boolean', default: false }, strace: { type: 'boolean', default: false }, perf: { type: 'boolean', default: false }, 'open-loop': { type: 'string' }, 'client-cpu': { type: 'string' }, sched: { type: 'boolean', default: false } } });
const durationS = Number(values.duration);

const dir = tempDir('kirin-relay-cost-');
chmodSync(dir, 0o755);
const net = await createRelayNetwork();
const launched: Launched[] = [];
const start = (ns: string, cpu: number, name: string, command: string, args: string[], env: Record<string, string> = {}) => {
  const proc = launch({ name, command: 'ip', args: ['netns', 'exec', ns, 'taskset', '-c', String(cpu), command, ...args], cpu: null, env });
  launched.push(proc);
  return proc;
};
try {
  const { cert, key } = await makeCertificate(dir);
  const homeConfig = writeHomeConfig({
    dir,
    names: [net.ispHome, net.publicVps],
    direct: `${net.ispHome}:443`,
    behindRelay: [`${net.underlayHome}:1443`, `${net.underlayHome}:3443`],
    trustedProxies: [net.underlayVps],
    cert,
    key,
  });
  const names = [net.publicVps];
  const relayConfig = writeKirinRelayConfig(dir, 'relay', { to: net.underlayHome, listen: `${net.publicVps}:1443`, names });
  const beforeConfig = () => writeKirinRelayConfig(dir, 'relay-before', { to: net.underlayHome, listen: `${net.publicVps}:3443`, names });
  const haproxyConfig = writeHaproxyRelayConfig(dir, { listen: `${net.publicVps}:2443`, to: `${net.underlayHome}:1443`, name: net.publicVps });
  const profiles = join(dir, 'profiles');
  mkdirSync(profiles);
  const home = start(net.home, SERVER_CPU, 'home kirin', NODE, [KIRIN_BIN, 'serve', '--config', homeConfig]);
  const relay = start(net.vps, LOAD_CPU, 'kirin relay', NODE, [KIRIN_BIN, 'serve', '--config', relayConfig], values.profile ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profiles}` } : values.perf ? { NODE_OPTIONS: '--perf-basic-prof' } : process.env.RELAY_NODE_OPTIONS ? { NODE_OPTIONS: process.env.RELAY_NODE_OPTIONS } : {});
  // RELAY_BEFORE=path/to/cli/bin.js: a second Kirin relay from another build (on :3443), for an A/B in one run;
  // RELAY_NODE_OPTIONS: Node options for the first relay only (an A/B of a V8 flag against the same build as RELAY_BEFORE).
  const before = process.env.RELAY_BEFORE ? start(net.vps, LOAD_CPU, 'kirin relay (before)', NODE, [process.env.RELAY_BEFORE, 'serve', '--config', beforeConfig()]) : null;
  const haproxy = start(net.vps, LOAD_CPU, 'haproxy', 'haproxy', ['-db', '-f', haproxyConfig]);
  for (const server of [home, relay, ...(before ? [before] : [])]) await server.waitForLine((l) => l.includes('"msg":"ready:'), 30_000, `${server.name} to be ready`);
  await run$('sh', ['-c', `for i in $(seq 50); do ip netns exec ${net.vps} ss -ltn | grep -q ':2443' && exit 0; sleep 0.1; done; exit 1`]).catch((error: Error) => {
    throw new Error(`haproxy is not listening: ${haproxy.output()}`, { cause: error });
  });
  const relayWorkers = descendants(relay.pid);

  const rows: (string | number)[][] = [];
  const paths = [
    { name: 'direct', url: `https://${net.ispHome}:443/`, pids: [] as number[] },
    { name: 'kirin relay', url: `https://${net.publicVps}:1443/`, pids: [relay.pid, ...relayWorkers] },
    ...(before ? [{ name: 'kirin relay (before)', url: `https://${net.publicVps}:3443/`, pids: [before.pid, ...descendants(before.pid)] }] : []),
    { name: 'haproxy', url: `https://${net.publicVps}:2443/`, pids: [haproxy.pid] },
  ];
  // --open-loop RATE: p50/p99 of kept-alive requests at a fixed rate through each path instead (bench/lib/open-loop.ts);
  // --client-cpu 1 puts that client beside the home server, leaving CPU 0 to the relays alone.
  if (values['open-loop']) {
    const rate = Number(values['open-loop']);
    for (let round = 0; round < Number(values.rounds); round++) {
      for (const path of paths) {
        const sched = values.sched ? recordScheduling(LOAD_CPU, durationS - 1) : null;
        const result = await runOpenLoop(path.url, rate, durationS, 'keep-alive', values['client-cpu'] === undefined ? LOAD_CPU : Number(values['client-cpu']));
        if (sched) console.log(await sched);
        console.log(`${path.name.padEnd(22)} p50 ${result.p50Ms.toFixed(2)} ms  p99 ${result.p99Ms.toFixed(2)} ms  lag p99 ${result.lagP99Ms.toFixed(2)} ms  failed ${result.failed}`);
      }
    }
  }
  for (const [label, headers] of values['open-loop'] ? [] : [
    ['new connection', ['Connection: close']],
    ['keep-alive', []],
  ] as const) {
    if (values.only && !label.startsWith(values.only)) continue;
    for (let round = 0; round < Number(values.rounds); round++) {
      for (const path of paths) {
        await runWrk({ url: path.url, durationS: 1, headers: [...headers] });
        const ticks = () => path.pids.reduce((sum, pid) => sum + processTicks(pid), 0);
        const homeTicks = () => [home.pid, ...descendants(home.pid)].reduce((sum, pid) => sum + processTicks(pid), 0);
        const threadsBefore = threadTicks(path.pids);
        const userTicks = () => path.pids.reduce((sum, pid) => sum + userTicksOf(pid), 0);
        const userBefore = userTicks();
        const before = ticks();
        const homeBefore = homeTicks();
        const strace = values.strace && path.pids.length ? run$('timeout', ['-s', 'INT', String(durationS - 1), 'strace', '-c', '-f', ...path.pids.flatMap((pid) => ['-p', String(pid)])]).catch((error: { stderr?: string }) => ({ stdout: '', stderr: error.stderr ?? '' })) : null;
        const perf = values.perf && path.pids.length ? run$('perf', ['record', '-F', '1999', '-g', '-o', `/tmp/relay3-perf-${path.name.replace(' ', '-')}.data`, '-p', path.pids.join(','), '--', 'sleep', String(durationS - 1)]).catch(() => null) : null;
        const result = await runWrk({ url: path.url, durationS, headers: [...headers] });
        await perf;
        if (strace) console.log(`${path.name} ${label}: ${result.requests} requests in ${durationS} s (strace for ${durationS - 1} s)\n${(await strace).stderr}`);
        const relayCpuS = (ticks() - before) / 100;
        const relayUserS = (userTicks() - userBefore) / 100;
        const threadsAfter = threadTicks(path.pids);
        if (path.pids.length) console.log([...threadsAfter].map(([k, v]) => `${k} ${v - (threadsBefore.get(k) ?? 0)}`).filter((l) => !l.endsWith(' 0')).join(', '));
        const homeCpuS = (homeTicks() - homeBefore) / 100;
        rows.push([
          label,
          path.name,
          Math.round(result.requestsPerSec),
          `${result.p99Ms.toFixed(2)} ms`,
          (relayCpuS / durationS).toFixed(2),
          path.pids.length ? ((relayCpuS * 1e6) / result.requests).toFixed(1) : '',
          path.pids.length ? ((relayUserS * 1e6) / result.requests).toFixed(1) : '',
          (homeCpuS / durationS).toFixed(2),
          ((result.cpuTicks / 100) / durationS).toFixed(2),
        ]);
        console.log(rows.at(-1)!.join('  '));
      }
    }
  }
  console.log(table(['load', 'path', 'req/s', 'p99', 'relay cores', 'relay µs/request', 'of which user', 'home cores', 'wrk cores'], rows));
  if (values.profile) {
    for (const server of launched.splice(0).reverse()) await server.stop();
    const file = readdirSync(profiles).find((name) => relayWorkers.some((pid) => name.includes(`.${pid}.`)));
    if (file) {
      const kept = join('/tmp', 'kirin-relay.cpuprofile');
      writeFileSync(kept, readFileSync(join(profiles, file)));
      console.log(`profile: ${kept}`);
    }
  }
} finally {
  for (const server of launched.reverse()) await server.stop();
  await net.close();
}

/**
 * --sched: `perf sched record` on one CPU while a path runs, then each busy task's scheduling delay (from being
 * woken to running) as `perf sched timehist` reports it: how long a task that had work waited for the core.
 */
async function recordScheduling(cpu: number, seconds: number): Promise<string> {
  const file = join(dir, `sched-${Date.now()}.data`);
  await run$('perf', ['sched', 'record', '-C', String(cpu), '-o', file, '--', 'sleep', String(seconds)], { maxBuffer: 1 << 26 });
  const { stdout } = await run$('perf', ['sched', 'timehist', '-i', file], { maxBuffer: 1 << 28 });
  const delays = new Map<string, number[]>();
  for (const line of stdout.split('\n')) {
    const match = /^\s*[\d.]+\s+\[\d+\]\s+(.+?)\[(\d+)(?:\/(\d+))?\]\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)/.exec(line);
    if (!match) continue;
    const key = `${match[1]}[${match[3] ?? match[2]}]`;
    const list = delays.get(key) ?? [];
    list.push(Number(match[5]));
    delays.set(key, list);
  }
  const busiest = [...delays].sort((a, b) => b[1].length - a[1].length).slice(0, 6);
  return busiest.map(([task, list]) => {
    const sorted = Float64Array.from(list).sort();
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(2);
    return `  ${task.padEnd(28)} runs ${String(sorted.length).padStart(6)}  sch delay p50 ${at(0.5)} p99 ${at(0.99)} max ${at(1)} ms`;
  }).join('\n');
}

function userTicksOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[11]);
  } catch {
    return 0;
  }
}

/** utime+stime per thread ("pid/tid name") of the processes. */
function threadTicks(pids: number[]): Map<string, number> {
  const ticks = new Map<string, number>();
  for (const pid of pids) {
    let tids: string[] = [];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {}
    for (const tid of tids) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        ticks.set(`${pid}/${tid} ${name} u${fields[11]}`, Number(fields[11]) + Number(fields[12]));
      } catch {}
    }
  }
  return ticks;
}
