/**
 * The relay (issue 18, Must show 2): HTTPS requests/s and p99 through
 * `kirin relay` against the same home Kirin reached directly, in one run:
 *
 *   direct            client → home                      (one veth)
 *   relay (veth)      client → relay → home              (two veths, PROXY v2)
 *   relay (WireGuard) client → relay → wireguard-go ⇄ wireguard-go → home
 *
 * Network namespaces "vps" and "home" as in test/relay/tunnel.test.ts (the
 * WireGuard keys and configs from `kirin relay init`); wrk in the bench's own
 * namespace. The home Kirin (1 worker) is pinned to CPU 1; wrk and the relays
 * share CPU 0 — on a real deployment the relay has a machine of its own, so
 * it must not take the home's core here; wireguard-go is not pinned (it runs
 * at both ends, as it would). Keep-alive (wrk -t1 -c50) and a new TLS
 * connection per request (Connection: close), "Hello, world!", raced around
 * the direct path (D R D W D) so the machine's drifts hit every ratio alike.
 *
 * Targets: without WireGuard the relay adds < 10% to p99 and passes >= 0.8 ×
 * the direct throughput. WireGuard's numbers are shown (wireguard-go encrypts
 * in user space on the same two cores; the kernel module would cost less).
 * Usage: node bench/relay.ts [--duration S] [--rounds N] [--quick]   (root)
 */
import { execFile } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createRelayNetwork, netnsUnavailable, type RelayNetwork } from '../test/support/netns.ts';
import { tempDir } from '../test/support/kirin.ts';
import { parseBenchOptions, type BenchOptions } from './lib/options.ts';
import { app, KIRIN_BIN, NODE } from './lib/paths.ts';
import { LOAD_CPU, SERVER_CPU } from './lib/pin.ts';
import { prereqs } from './lib/prereq.ts';
import { launch, type Launched } from './lib/process.ts';
import { race, relative, type Contestant, type RaceResult } from './lib/race.ts';
import { fmt, Printer, ratioAtLeast, table, type BenchResult, type Target } from './lib/report.ts';
import { makeCertificate } from './lib/tls-site.ts';

const BENCH = 'relay';
const run$ = promisify(execFile);
/** The veth relay uses its own port, so one home Kirin serves all three paths. */
const VETH_PORT = 1443;
const TUNNEL_PORT = 443;
const DIRECT_PORT = 443;

export async function run(options: BenchOptions, out = new Printer()): Promise<BenchResult> {
  prereqs(['wrk', 'taskset', 'ip', 'wireguard-go', 'wg', 'wg-quick']);
  const unavailable = await netnsUnavailable();
  if (unavailable) throw new Error(`the relay bench needs network namespaces: ${unavailable}`);
  out.line(`## relay: HTTPS through kirin relay — home Kirin on CPU ${SERVER_CPU} (1 worker), wrk and relays on CPU ${LOAD_CPU}, ${options.rounds} × ${options.durationS} s (median)`);
  const dir = tempDir('kirin-bench-relay-');
  chmodSync(dir, 0o755);
  const net = await createRelayNetwork();
  const launched: Launched[] = [];
  try {
    await run$(NODE, [KIRIN_BIN, 'relay', 'init', '--vps', net.underlayVps, '--out', 'relay'], { cwd: dir });
    const files = join(dir, 'relay');
    await net.startWireGuard(net.vps, `${net.vps}w`, join(files, 'vps', 'kirin0.conf'));
    await net.startWireGuard(net.home, `${net.home}w`, join(files, 'home', 'kirin0.conf'));
    const homeKeys = JSON.parse(readFileSync(join(files, 'home', 'kirin.relay.json'), 'utf8')) as { trustedProxies: string[]; listen: { https: { address: string }[] } };
    const tunnelHome = homeKeys.listen.https[0]!.address.split(':')[0]!;
    const { cert, key } = await makeCertificate(dir);

    // Home: one Kirin, three listeners — direct, behind the veth relay, behind the WireGuard relay. Sites by the address clients use (wrk sends it as SNI).
    const homeConfig = join(dir, 'home.json');
    writeFileSync(
      homeConfig,
      JSON.stringify({
        workers: 1,
        admin: false,
        accessLog: false,
        stateDir: join(dir, 'home-state'),
        trustedProxies: [...homeKeys.trustedProxies, net.underlayVps],
        listen: { https: [`${net.ispHome}:${DIRECT_PORT}`, { address: `${net.underlayHome}:${VETH_PORT}`, proxyProtocol: true }, { address: `${tunnelHome}:${TUNNEL_PORT}`, proxyProtocol: true }] },
        sites: { [`${net.ispHome}, ${net.publicVps}`]: { tls: { cert, key }, hsts: false, '/': { app: app('hello-fetch.ts') } } },
      }),
    );
    const home = start(net, net.home, SERVER_CPU, 'home kirin', ['serve', '--config', homeConfig], launched);
    const relayVeth = start(net, net.vps, LOAD_CPU, 'relay (veth)', ['serve', '--config', relayConfig(dir, 'relay-veth', net.underlayHome, `${net.publicVps}:${VETH_PORT}`)], launched);
    const relayWg = start(net, net.vps, LOAD_CPU, 'relay (WireGuard)', ['serve', '--config', relayConfig(dir, 'relay-wg', tunnelHome, `${net.publicVps}:${TUNNEL_PORT}`)], launched);
    for (const server of [home, relayVeth, relayWg]) await server.waitForLine((l) => l.includes('"msg":"ready:'), 30_000, `${server.name} to be ready`);

    const direct = { name: 'direct', url: `https://${net.ispHome}:${DIRECT_PORT}/`, pids: [home.pid] };
    const veth = { name: 'relay (veth)', url: `https://${net.publicVps}:${VETH_PORT}/`, pids: [home.pid, relayVeth.pid] };
    const wireguard = { name: 'relay (WireGuard)', url: `https://${net.publicVps}:${TUNNEL_PORT}/`, pids: [home.pid, relayWg.pid, ...net.wireguardPids()] };
    out.line('responses:');
    for (const c of [direct, veth, wireguard]) out.line(`  ${c.name.padEnd(18)} ${await check(c.url)}`);

    out.line('\nkeep-alive HTTPS (wrk -t1 -c50):');
    const keepAlive = await race([direct, veth, wireguard], options, out, direct.name);
    out.line('\nnew TLS connection per request (wrk -t1 -c50 -H "Connection: close"):');
    const perRequest = await race(([direct, veth, wireguard] as Contestant[]).map((c) => ({ ...c, headers: ['Connection: close'] })), options, out, direct.name);

    const targets: Target[] = [];
    const rows: (string | number)[][] = [];
    for (const [label, results] of [
      ['keep-alive', keepAlive],
      ['new connection', perRequest],
    ] as const) {
      const base = results.get(direct.name)!;
      for (const name of [direct.name, veth.name, wireguard.name]) {
        const r = results.get(name)!;
        rows.push([label, name, fmt(r.requestsPerSec), `${r.p99Ms.toFixed(2)} ms`, name === direct.name ? '1.00' : relative(r, base).toFixed(2), name === direct.name ? '1.00' : (r.p99Ms / base.p99Ms).toFixed(2)]);
      }
      const relayed = results.get(veth.name)!;
      targets.push(ratioAtLeast(BENCH, `${label}: relay (veth) req/s`, relative(relayed, base), 1, 0.8, 'direct'));
      targets.push(p99Within(`${label}: relay (veth) p99`, relayed, base, 1.1));
      const tunnel = results.get(wireguard.name)!;
      targets.push({ bench: BENCH, name: `${label}: relay (WireGuard) req/s`, measured: `${relative(tunnel, base).toFixed(2)}× direct, p99 ${(tunnel.p99Ms / base.p99Ms).toFixed(2)}× direct`, required: 'shown (wireguard-go)', pass: true });
    }
    out.line('');
    out.line(table(['load', 'path', 'req/s', 'p99', 'req/s ÷ direct', 'p99 ÷ direct'], rows));
    return { name: BENCH, targets, text: out.text };
  } finally {
    for (const server of launched.reverse()) await server.stop();
    await net.close();
  }
}

/** One request with the address as SNI, as wrk sends it (curl sends none for an address). */
async function check(url: string): Promise<string> {
  const { hostname, port: given } = new URL(url);
  const port = given || '443';
  const { stdout } = await run$('sh', ['-c', `printf 'GET / HTTP/1.1\\r\\nHost: ${hostname}\\r\\nConnection: close\\r\\n\\r\\n' | timeout 5 openssl s_client -quiet -connect ${hostname}:${port} -servername ${hostname} 2>/dev/null`]);
  return stdout.split('\r\n')[0] ?? '';
}

function start(net: RelayNetwork, ns: string, cpu: number, name: string, args: string[], launched: Launched[]): Launched {
  const server = launch({ name, command: 'ip', args: ['netns', 'exec', ns, 'taskset', '-c', String(cpu), NODE, KIRIN_BIN, ...args], cpu: null });
  launched.push(server);
  return server;
}

function relayConfig(dir: string, name: string, to: string, listen: string): string {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ admin: false, accessLog: false, stateDir: join(dir, `${name}-state`), relay: { to, listen: [listen] } }));
  return file;
}

/** `value.p99 <= max × base.p99`: the relay's added tail latency. */
function p99Within(name: string, value: RaceResult, base: RaceResult, max: number): Target {
  const ratio = base.p99Ms > 0 ? value.p99Ms / base.p99Ms : Infinity;
  return { bench: BENCH, name, measured: `${value.p99Ms.toFixed(2)} ms = ${ratio.toFixed(2)}× direct (${base.p99Ms.toFixed(2)} ms)`, required: `< ${max}× direct`, pass: ratio < max };
}

if (import.meta.main) {
  const { options } = parseBenchOptions(process.argv.slice(2));
  await run(options);
}
