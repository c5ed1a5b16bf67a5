/**
 * Incidents: the master's events turned into things a person should hear about,
 * each with a title, a detail text and a signature (what counts as "the same
 * one again"). The dashboard's last-errors list and the alerts both read them,
 * so an error reads the same in both places.
 *
 *   worker-event:app-error     → app-error (a 500 with stack and request, or a 5xx the app answered itself)
 *   worker-exit + worker-restart(crash | watchdog | boot-error) → worker-crash / worker-hung
 *   reload(false)              → reload-failed
 *   crash-loop                 → crash-loop
 *   certificate-failed         → certificate-failed (from the TLS manager)
 *   worker-event:upstream-health → upstream-down / upstream-up (proxy upstreams, and a relay's home end)
 *   service-exit, service-failed / service-ready → service-down / service-up
 *   ddns-stopped               → ddns-stopped (the provider refused; updates stopped)
 */
import type { WorkerFacts } from '../master/events.ts';
import type { Incident } from './incident.ts';
import type { Master } from '../master/master.ts';
import type { AppErrorReport } from './app-errors.ts';
import { RELAY_ROUTE, relayUpstreamUrl } from '../relay/plan.ts';
import { UpstreamTracker, asUpstreamReport, type UpstreamTransition } from './upstream-health.ts';
import { DDNS_STOPPED_EVENT, ddnsIncident, type DdnsStoppedInfo } from '../ddns/incident.ts';

export type { Incident, IncidentKind } from './incident.ts';

/** What incidents need from the master; a fake with these parts drives the unit tests. */
export type ObservedMaster = Pick<Master, 'status' | 'providers' | 'plan' | 'on'>;

export class IncidentWatcher {
  readonly #master: ObservedMaster;
  readonly #listeners: ((incident: Incident) => void)[] = [];
  readonly #upstreams: UpstreamTracker;
  readonly #serviceStates = new Map<string, 'down' | 'up'>();
  #lastExit: WorkerFacts | null = null;

  constructor(master: ObservedMaster) {
    this.#master = master;
    this.#upstreams = new UpstreamTracker(master.providers.upstreams);
    master.on('worker-event:app-error', (worker, payload) => {
      const report = asAppErrorReport(payload);
      if (report) this.#emit(appErrorIncident(report, worker));
    });
    master.on('worker-exit', (worker) => {
      this.#lastExit = worker;
      for (const t of this.#upstreams.forgetWorker(worker.pid)) this.#emit(upstreamIncident(t));
    });
    master.on('worker-restart', (reason) => {
      const worker = this.#lastExit;
      this.#lastExit = null;
      if (worker && (reason === 'crash' || reason === 'watchdog' || reason === 'boot-error')) this.#emit(workerIncident(worker, reason));
    });
    master.on('reload', (ok, reason) => {
      if (!ok) {
        this.#emit({ kind: 'reload-failed', signature: 'reload-failed', title: `a reload failed; generation ${master.status().generation} keeps serving`, detail: reason ?? 'The reason is in the error log (journalctl -u kirin, or the terminal).', time: Date.now(), count: 1 });
        return;
      }
      this.#upstreams.sync(proxyUpstreams(master.plan));
    });
    master.on('crash-loop', (count) => this.#emit(crashLoopIncident(count)));
    master.on('certificate-failed', (info) => this.#emit(certificateIncident(info)));
    master.on(DDNS_STOPPED_EVENT, (info: DdnsStoppedInfo) => this.#emit(ddnsIncident(info)));
    master.on('worker-event:upstream-health', (worker, payload) => {
      const report = asUpstreamReport(payload);
      const transition = report && this.#upstreams.report(worker.pid, report);
      if (transition) this.#emit(upstreamIncident(transition));
    });
    // The service manager's events: an exit it did not ask for, a start that failed, ready (again).
    master.on('service-exit', (info) => {
      const how = info.signal ? `signal ${info.signal}` : `exit code ${info.code}`;
      this.#serviceChanged(info.name, 'down', `service "${info.name}" exited (${how}); restarting it in ${info.restartInMs} ms`, `Service: ${info.name}\nPID: ${info.pid ?? '-'}\nExit: ${how} after ${((info.uptimeMs ?? 0) / 1000).toFixed(1)} s\nRestarts so far: ${info.restarts ?? 0}`);
    });
    master.on('service-failed', (info) => {
      this.#serviceChanged(info.name, 'down', `service "${info.name}" failed: ${info.error.split('\n')[0]}`, `Service: ${info.name}\nError: ${info.error}`);
    });
    master.on('service-ready', (info) => {
      if (this.#serviceStates.get(info.name) === 'down') this.#serviceChanged(info.name, 'up', `service "${info.name}" runs again`, `Service: ${info.name}\nPID: ${info.pid ?? '-'}\nUpstream: ${info.upstream || '-'}`);
    });
  }

  on(listener: (incident: Incident) => void): void {
    this.#listeners.push(listener);
  }

  /** Lists the plan's proxy upstreams (healthy until a worker says otherwise). */
  start(): void {
    this.#upstreams.sync(proxyUpstreams(this.#master.plan));
  }

  #serviceChanged(name: string, state: 'down' | 'up', title: string, detail: string): void {
    this.#serviceStates.set(name, state);
    this.#emit({ kind: state === 'down' ? 'service-down' : 'service-up', signature: `service:${name}`, title, detail, time: Date.now(), state, count: 1 });
  }

  #emit(incident: Incident): void {
    for (const listener of this.#listeners) {
      try {
        listener(incident);
      } catch {
        // One broken listener must not keep the others from hearing.
      }
    }
  }
}

export function asAppErrorReport(value: unknown): AppErrorReport | null {
  if (typeof value !== 'object' || value === null) return null;
  const r = value as Partial<AppErrorReport>;
  if (typeof r.name !== 'string' || typeof r.message !== 'string' || typeof r.stack !== 'string') return null;
  const report: AppErrorReport = { time: typeof r.time === 'number' ? r.time : Date.now(), name: r.name, message: r.message, stack: r.stack, request: r.request ?? null, dropped: typeof r.dropped === 'number' ? r.dropped : 0 };
  if (typeof r.status === 'number') report.status = r.status;
  return report;
}

/** Numbers, hex and UUIDs replaced: `order 42` and `order 43` are the same error. */
function withoutIds(text: string): string {
  return text.replace(/0x[0-9a-f]+|[0-9a-f]{8}-[0-9a-f-]{27}|\d+/gi, '#');
}

/**
 * Errors with the same class, the same message (numbers and ids aside) and the
 * same throwing line are one error (what an error tracker groups by).
 */
export function appErrorSignature(report: Pick<AppErrorReport, 'name' | 'message' | 'stack'>): string {
  const message = withoutIds(report.message);
  const frame = /^\s+at .*$/m.exec(report.stack)?.[0].trim() ?? '';
  return `app-error:${report.name}:${message}:${frame}`;
}

/** A 5xx the app answered itself: the same status for the same method and path (numbers and ids aside) is one error. */
function appStatusSignature(status: number, request: NonNullable<AppErrorReport['request']>): string {
  const path = withoutIds(pathOf(request.url).split('?')[0]!);
  return `app-status:${status}:${request.site}:${request.method} ${path}`;
}

export function appErrorIncident(report: AppErrorReport, worker: Pick<WorkerFacts, 'pid' | 'index' | 'generation'>): Incident {
  const request = report.request;
  const answered = report.status !== undefined && request !== null;
  const what = answered ? `${report.name}, answered by the app` : `${report.name}: ${report.message.split('\n')[0]}`;
  const title = request ? `${request.method} ${pathOf(request.url)} → ${what}` : `${what} (outside a request)`;
  const lines = answered
    ? [`The app answered ${report.name} itself (its own error handler, or a 5xx response): no exception reached Kirin, so there is no stack here; the app's own log may have it.`, '']
    : [report.stack, ''];
  if (request) {
    lines.push(`Request: ${request.method} ${request.url}`, `Client: ${request.client}`, `Site: ${request.site}`, `Route: ${request.route}`);
  } else {
    lines.push('Thrown outside a request (a timer, an event handler, a rejected promise nobody awaited): the worker is replaced.');
  }
  lines.push(`Worker: ${worker.index} (pid ${worker.pid}, generation ${worker.generation})`, `Time: ${new Date(report.time).toISOString()}`);
  if (request) {
    lines.push('', 'Headers:');
    for (const [name, value] of Object.entries(request.headers)) lines.push(`  ${name}: ${value}`);
  }
  const signature = answered ? appStatusSignature(report.status!, request) : appErrorSignature(report);
  return { kind: 'app-error', signature, title, detail: lines.join('\n'), time: report.time, count: 1 + report.dropped, status: report.status ?? 500 };
}

function workerIncident(worker: WorkerFacts, reason: string): Incident {
  const who = `worker ${worker.index} (pid ${worker.pid})`;
  const how = worker.exitSignal ? `signal ${worker.exitSignal}` : `exit code ${worker.exitCode}`;
  const lines = [`Worker: ${worker.index}, pid ${worker.pid}, generation ${worker.generation}`, `Exit: ${how}`, `Uptime: ${((Date.now() - worker.startedAt) / 1000).toFixed(1)} s`];
  if (reason === 'watchdog') {
    const stall = worker.lastStall;
    if (stall?.requests.length) lines.push(`Handling: ${stall.requests.join('; ')}`);
    if (stall?.stack.length) lines.push('Where the event loop was blocked:', ...stall.stack.map((f) => `    at ${f}`));
    return { kind: 'worker-hung', signature: `worker-hung:${stall?.stack[0] ?? ''}`, title: `${who} was killed by the watchdog: its event loop was blocked`, detail: lines.join('\n'), time: Date.now(), count: 1 };
  }
  if (reason === 'boot-error' && worker.bootError) lines.push('', worker.bootError.stack || worker.bootError.message);
  const hint = worker.exitSignal === 'SIGKILL' ? ' (killed; perhaps out of memory?)' : '';
  return { kind: 'worker-crash', signature: `worker-crash:${how}`, title: `${who} died, ${how}${hint}; a new one was started`, detail: lines.join('\n'), time: Date.now(), count: 1 };
}

function crashLoopIncident(count: number): Incident {
  return {
    kind: 'crash-loop',
    signature: 'crash-loop',
    title: `workers are crash-looping: ${count} crashes in a row`,
    detail: `${count} workers died in a row without running 30 s. Kirin keeps restarting them with a growing delay (up to 30 s).\nThe error log says why each one died (journalctl -u kirin).`,
    time: Date.now(),
    count: 1,
  };
}

/** The TLS manager emits `certificate-failed` with `{ names, error, failures, retryAt }` (a bare string or Error is taken as the error). */
export function certificateIncident(info: unknown): Incident {
  const record = (typeof info === 'object' && info !== null && !(info instanceof Error) ? info : { error: info }) as Record<string, unknown>;
  const names = Array.isArray(record.names) ? record.names.map(String) : typeof record.name === 'string' ? [record.name] : [];
  const error = record.error instanceof Error ? record.error.message : record.error !== undefined ? String(record.error) : typeof record.message === 'string' ? record.message : 'unknown error';
  const retryAt = typeof record.retryAt === 'number' ? record.retryAt : typeof record.nextAttemptAt === 'number' ? record.nextAttemptAt : null;
  const next = retryAt !== null && retryAt > 0 ? `\nNext attempt: ${new Date(retryAt).toISOString()}` : '';
  const failures = typeof record.failures === 'number' && record.failures > 1 ? `\nFailed attempts in a row: ${record.failures}` : '';
  const expires = typeof record.notAfter === 'number' && record.notAfter > 0 ? `\nThe current certificate expires: ${new Date(record.notAfter).toISOString()}` : '';
  const label = names.join(', ') || 'a site';
  return {
    kind: 'certificate-failed',
    signature: `certificate-failed:${names.join(',')}`,
    title: `the certificate for ${label} could not be obtained or renewed`,
    detail: `Names: ${label}\nError: ${error}${failures}${expires}${next}`,
    time: Date.now(),
    count: 1,
  };
}

function upstreamIncident(t: UpstreamTransition): Incident {
  return {
    kind: t.healthy ? 'upstream-up' : 'upstream-down',
    signature: `upstream:${t.route}:${t.url}`,
    title: t.healthy ? `upstream ${t.url} is back (${t.route})` : `upstream ${t.url} is down (${t.route})`,
    detail: `Route: ${t.route}\nUpstream: ${t.url}\nState: ${t.healthy ? 'healthy' : 'down: health checks or requests to it fail'}`,
    time: Date.now(),
    state: t.healthy ? 'up' : 'down',
    count: 1,
  };
}

/** Every (route, upstream URL) pair the plan proxies to. */
function proxyUpstreams(plan: ObservedMaster['plan']): { route: string; url: string }[] {
  const out: { route: string; url: string }[] = [];
  for (const site of plan.sites) {
    for (const route of site.routes) {
      if (route.handler?.type === 'proxy') for (const url of route.handler.to) out.push({ route: route.at, url });
    }
  }
  if (plan.relay) out.push({ route: RELAY_ROUTE, url: relayUpstreamUrl(plan.relay) });
  return out;
}

function pathOf(url: string): string {
  const i = url.indexOf('/', url.indexOf('//') + 2);
  return i === -1 ? '/' : url.slice(i);
}
