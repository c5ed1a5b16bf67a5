/**
 * What the master tells its extensions (admin listener, metrics, alerts,
 * certificates, rate limits): one typed map from event name to arguments, so
 * a listener is checked against what the master sends instead of casting.
 *
 *   starting      the control socket is open; services and workers start next
 *   booted        every worker of the first generation is ready: the master serves
 *   reload        a reload ended: (true) the new generation serves, or (false, why) it was rolled back
 *   finishing     the master is stopping its services and closing its sockets
 *   stopped       the master is done, with its exit code
 *   worker-exit, worker-restart, crash-loop, metrics, worker-event:<type>   from workers
 *   service-ready, service-exit, service-failed                          from services
 *   certificate-issued, certificate-renewed, certificate-failed          from the certificate manager
 *   ddns-stopped                                                         from the DDNS client
 *
 * This module is a leaf (types only), so extensions import it without the master.
 */
import type { DdnsStoppedInfo } from '../ddns/incident.ts';
import type { StallReport, WorkerMessage } from '../ipc.ts';

/** Why a worker was replaced, as counted in `kirin status` and the metrics. */
export type ExitReason = 'crash' | 'watchdog' | 'max-requests' | 'memory' | 'uncaught-exception' | 'boot-error';

export interface ReloadResult {
  ok: boolean;
  generation: number;
  error?: string;
}

/** What a listener may read about a worker (the master passes its WorkerHandle). */
export interface WorkerFacts {
  readonly pid: number;
  /** 1-based position in its generation. */
  readonly index: number;
  readonly generation: number;
  readonly startedAt: number;
  readonly exitCode: number | null;
  readonly exitSignal: NodeJS.Signals | null;
  /** The last report of the worker's watchdog thread: what blocked its event loop. */
  readonly lastStall: (StallReport & { at: number }) | null;
  readonly bootError: Extract<WorkerMessage, { t: 'boot-error' }> | null;
}

export interface ServiceReady {
  name: string;
  pid: number | null;
  upstream: string;
}

export interface ServiceExit {
  name: string;
  pid: number | null;
  restarts: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  uptimeMs: number;
  restartInMs: number;
}

export interface ServiceFailure {
  name: string;
  error: string;
}

/** The services' part of the map (ServiceManager emits these through the master). */
export interface ServiceEventMap {
  'service-ready': [service: ServiceReady];
  'service-exit': [service: ServiceExit];
  /** A service could not be started (its program is missing, its folder is gone). */
  'service-failed': [failure: ServiceFailure];
}

export interface MasterEventMap extends ServiceEventMap {
  starting: [];
  booted: [];
  reload: [ok: boolean, reason?: string];
  finishing: [];
  stopped: [exitCode: number];
  /** A worker's process ended (any reason; `worker-restart` follows when it is replaced for a reason that counts). */
  'worker-exit': [worker: WorkerFacts];
  'worker-restart': [reason: ExitReason];
  /** Ten workers died in a row without running 30 s. */
  'crash-loop': [crashes: number];
  /** A worker's heartbeat carried metric deltas (observe/metrics.ts reads them). */
  metrics: [worker: WorkerFacts, delta: unknown];
  /** A worker's `notify(type, payload)` (app errors, upstream health, TLS acknowledgements); the payload is the worker's, unchecked. */
  [event: `worker-event:${string}`]: [worker: WorkerFacts, payload: unknown];
  /** From the certificate manager (src/tls/manager.ts): the payload as it describes it. */
  'certificate-issued': [info: unknown];
  'certificate-renewed': [info: unknown];
  'certificate-failed': [info: unknown];
  /** DDNS updates stopped on a refusal that must not be retried (src/ddns/extension.ts). */
  'ddns-stopped': [info: DdnsStoppedInfo];
}
