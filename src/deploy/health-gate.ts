/**
 * The health gate after the switch: the host's Kirin says it is ready
 * (/readyz on its admin listener) and the first site answers — asked on the
 * host itself, over loopback, every second until it passes or the time is up
 * (Kamal's gate: GET /up every 1 s, 30 s).
 */
import type { ListenAddress, ServePlan } from '../config/plan.ts';
import type { Host } from './host.ts';
import { command } from './shell.ts';

export interface HealthTarget {
  /** What the target is, for messages: "readyz", "GET / on example.com". */
  name: string;
  protocol: 'http' | 'https';
  /** TCP host and port, or a unix socket path. */
  host: string;
  port: number;
  socketPath: string | null;
  path: string;
  /** The Host header (and TLS server name). */
  hostHeader: string;
  /** Statuses below this pass. */
  passBelow: number;
}

export interface GateResult {
  ok: boolean;
  /** Per target, the last status or error seen. */
  seen: Record<string, string>;
}

/**
 * The targets for a plan: /readyz on the admin listener, and the health path
 * on the first site. The default `/` passes on any status below 500 (the app
 * answered); a `healthPath` the user chose must answer 2xx or 3xx.
 */
export function healthTargets(plan: ServePlan, healthPath: string | null): HealthTarget[] {
  const targets: HealthTarget[] = [];
  if (plan.admin && plan.admin.listen.kind !== 'fd') targets.push({ name: 'readyz', protocol: 'http', ...where(plan.admin.listen), path: '/readyz', hostHeader: 'localhost', passBelow: 300 });
  const site = plan.sites[0];
  if (site) {
    const name = site.hosts[0] === '*' || !site.hosts[0] ? 'localhost' : site.hosts[0].replace(/^\*\./, 'www.');
    const secure = site.tls.mode !== 'off' && plan.listen.https.some((a) => a.kind !== 'fd');
    const listener = (secure ? plan.listen.https : plan.listen.http).find((a) => a.kind !== 'fd');
    if (listener) {
      const path = healthPath ?? '/';
      targets.push({ name: `GET ${path} on ${name}`, protocol: secure ? 'https' : 'http', ...where(listener), path, hostHeader: name, passBelow: healthPath ? 400 : 500 });
    }
  }
  return targets;
}

function where(address: ListenAddress): Pick<HealthTarget, 'host' | 'port' | 'socketPath'> {
  if (address.kind === 'unix') return { host: '', port: 0, socketPath: address.path };
  const host = address.host === '' || address.host === '0.0.0.0' ? '127.0.0.1' : address.host === '::' ? '::1' : address.host;
  return { host, port: address.port, socketPath: null };
}

// Runs on the host with its Node: asks every target once a second until all passed or the deadline.
// TLS certificates are not verified here: the gate asks whether the app answers, over loopback.
const PROBE = `
const [targets, timeoutMs] = [JSON.parse(process.argv[1]), Number(process.argv[2])];
const deadline = Date.now() + timeoutMs;
const seen = {};
const passed = new Set();
function ask(t) {
  return new Promise((resolve) => {
    const lib = require(t.protocol === 'https' ? 'node:https' : 'node:http');
    const options = { method: 'GET', path: t.path, headers: { host: t.hostHeader, 'user-agent': 'kirin-deploy-health-gate' }, timeout: 5000 };
    if (t.socketPath) options.socketPath = t.socketPath; else { options.host = t.host; options.port = t.port; }
    if (t.protocol === 'https') { options.servername = t.hostHeader; options.rejectUnauthorized = false; }
    const req = lib.request(options, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); res.on('error', () => resolve(res.statusCode)); });
    req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', (e) => resolve(e.code || e.message));
    req.end();
  });
}
(async () => {
  for (;;) {
    for (const t of targets) {
      if (passed.has(t.name)) continue;
      const r = await ask(t);
      seen[t.name] = typeof r === 'number' ? 'status ' + r : String(r);
      if (typeof r === 'number' && r < t.passBelow) passed.add(t.name);
    }
    if (passed.size === targets.length || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  process.stdout.write(JSON.stringify({ ok: passed.size === targets.length, seen }) + '\\n');
})();
`;

export function gateScript(targets: HealthTarget[], timeoutMs: number): string {
  return `node -e ${command(PROBE)} ${command(JSON.stringify(targets))} ${timeoutMs}`;
}

export async function runHealthGate(host: Host, targets: HealthTarget[], timeoutMs: number): Promise<GateResult> {
  if (targets.length === 0) return { ok: true, seen: {} };
  const result = await host.run(gateScript(targets, timeoutMs), { quiet: true, what: 'health gate' });
  try {
    return JSON.parse(result.stdout.trim().split('\n').pop()!) as GateResult;
  } catch {
    return { ok: false, seen: { probe: (result.stderr.trim().split('\n').pop() ?? '') || `exit ${result.code}` } };
  }
}

export function describeGate(result: GateResult): string {
  return Object.entries(result.seen).map(([name, seen]) => `${name}: ${seen}`).join('; ');
}
