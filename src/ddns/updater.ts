/**
 * One DDNS client: detect the public addresses, send the ones that changed,
 * remember what was accepted, back off on failure, stop on a refusal that
 * retrying cannot fix. `check()` is one pass; `start()` runs passes every
 * `interval` in the background. Nothing here can hold up serving: every
 * request has a deadline and every pass is awaited by nobody but the timer.
 */
import type { Logger } from '../observe/log.ts';
import { detectAddresses, type Detection } from './addresses/detect.ts';
import { EchoClient } from './addresses/echo.ts';
import { MissingCredentialError } from './credentials.ts';
import type { DdnsPlan } from './plan.ts';
import { forAll, type DdnsProvider, type NameResult } from './providers/provider.ts';
import { DdnsState, type NameState, type RecordType, type StoppedState } from './state.ts';

const FIRST_BACKOFF_MS = 60_000;
const MAX_BACKOFF_MS = 60 * 60_000;

export interface CheckReport {
  detection: Detection;
  /** Results of the update sent in this pass (empty when nothing had to be sent). */
  results: NameResult[];
  /** Why nothing was sent, when nothing was: 'unchanged', 'backing off', 'stopped', 'no address', 'stopping'. */
  skipped: string | null;
}

export interface DdnsStatus {
  provider: DdnsPlan['provider']['kind'];
  target: string;
  intervalMs: number;
  detection: Detection | null;
  checkedAt: number | null;
  nextCheckAt: number | null;
  names: ({ name: string } & NameState)[];
  stopped: StoppedState | null;
  /** Updates the provider accepted, and failures by the provider's answer word, since the start. */
  successes: number;
  failures: Record<string, number>;
}

export interface UpdaterOptions {
  plan: DdnsPlan;
  provider: DdnsProvider;
  state: DdnsState;
  logger: Logger;
  /** Told once per refusal that stops updating (alerts listen here). */
  onStop?: (stopped: StoppedState, results: NameResult[]) => void;
  echo?: EchoClient;
}

export class DdnsUpdater {
  readonly #plan: DdnsPlan;
  readonly #provider: DdnsProvider;
  readonly #state: DdnsState;
  readonly #logger: Logger;
  readonly #echo: EchoClient;
  readonly #onStop: UpdaterOptions['onStop'];
  readonly #abort = new AbortController();
  #detection: Detection | null = null;
  #told = new Map<string, string>();
  #failuresInRow = 0;
  #retryAt = 0;
  #timer: NodeJS.Timeout | null = null;
  #nextCheckAt: number | null = null;
  #running: Promise<CheckReport> | null = null;
  #successes = 0;
  readonly #failures: Record<string, number> = {};

  constructor(options: UpdaterOptions) {
    this.#plan = options.plan;
    this.#provider = options.provider;
    this.#state = options.state;
    this.#logger = options.logger;
    this.#echo = options.echo ?? new EchoClient();
    this.#onStop = options.onStop;
  }

  /** Checks now, then every interval (sooner when a retry is due). */
  start(): void {
    this.#schedule(0);
  }

  /** Stops the timer and aborts a request in flight. */
  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#nextCheckAt = null;
    this.#abort.abort();
    this.#echo.close();
    this.#provider.close?.();
  }

  /** Forgets a stop (the user fixed the cause and reloaded, or asked with --force). */
  clearStop(): void {
    if (this.#state.stopped === null) return;
    this.#state.stopped = null;
    this.#state.save();
  }

  /** One pass. Concurrent callers share the pass in progress. `force` sends even unchanged addresses, and past a stop or a backoff. */
  check(options: { force?: boolean } = {}): Promise<CheckReport> {
    this.#running ??= this.#check(options.force === true).finally(() => (this.#running = null));
    return this.#running;
  }

  status(): DdnsStatus {
    return {
      provider: this.#provider.kind,
      target: this.#provider.target,
      intervalMs: this.#plan.intervalMs,
      detection: this.#detection,
      checkedAt: this.#detection?.at ?? null,
      nextCheckAt: this.#nextCheckAt,
      names: this.#plan.names.map((name) => ({ name, ...this.#state.name(name) })),
      stopped: this.#state.stopped,
      successes: this.#successes,
      failures: { ...this.#failures },
    };
  }

  #schedule(delayMs: number): void {
    if (this.#abort.signal.aborted) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#nextCheckAt = Date.now() + delayMs;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.check()
        .catch((error: unknown) => this.#logger.error({ err: error }, `ddns: the check failed: ${(error as Error).message}`))
        .finally(() => {
          const now = Date.now();
          const retryIn = this.#retryAt > now ? this.#retryAt - now : Infinity;
          this.#schedule(Math.min(this.#plan.intervalMs, retryIn));
        });
    }, delayMs);
    // The master's loop keeps the process alive; a DDNS timer must not keep a stopping one.
    this.#timer.unref();
  }

  async #check(force: boolean): Promise<CheckReport> {
    const signal = this.#abort.signal;
    const detection = await detectAddresses(this.#plan, this.#echo, { signal });
    this.#detection = detection;
    this.#tellDetection(detection);
    const wanted: [RecordType, string][] = [];
    if (detection.ipv4?.address) wanted.push(['A', detection.ipv4.address]);
    if (detection.ipv6?.address) wanted.push(['AAAA', detection.ipv6.address]);
    const report = (skipped: string, results: NameResult[] = []): CheckReport => ({ detection, results, skipped: results.length > 0 ? null : skipped });
    if (wanted.length === 0) return report('no address');

    const now = Date.now();
    const target = `${this.#provider.kind} ${this.#provider.target}`;
    const names = this.#plan.names.filter((name) => force || wanted.some(([type, address]) => this.#state.needsUpdate(name, type, address, target, now)));
    if (names.length === 0) {
      this.#logger.debug({ addresses: Object.fromEntries(wanted) }, 'ddns: addresses unchanged; nothing sent');
      return report('unchanged');
    }
    const stopped = this.#state.stopped;
    if (stopped && !force) {
      this.#logger.debug(`ddns: not sending: stopped since ${new Date(stopped.at).toISOString()} (${stopped.code})`);
      return report('stopped');
    }
    if (now < this.#retryAt && !force) return report('backing off');

    const request = { names, ipv4: detection.ipv4?.address ?? null, ipv6: detection.ipv6?.address ?? null };
    let results: NameResult[];
    try {
      results = await this.#provider.update(request, signal);
    } catch (error) {
      if (!(error instanceof MissingCredentialError)) throw error;
      results = forAll(names, { status: 'stop', code: 'credential', message: error.message });
    }
    // Stopped mid-request (Kirin is stopping): nothing was learned about the provider.
    if (signal.aborted) return report('stopping');
    this.#record(results, wanted, target);
    return report('sent', results);
  }

  #record(results: NameResult[], wanted: [RecordType, string][], target: string): void {
    const at = Date.now();
    let retryAfter = 0;
    let stop: NameResult | null = null;
    // Logged once the state file is saved: whoever reads "updated" in the log finds it on disk too.
    const tell: (() => void)[] = [];
    for (const result of results) {
      const accepted = result.status === 'updated' ? wanted.map(([type, address]) => ({ type, address, target })) : [];
      this.#state.recordAnswer(result.name, { at, status: result.status, code: result.code, message: result.message }, accepted);
      if (result.status === 'updated') {
        this.#successes++;
        tell.push(() => this.#logger.info({ name: result.name, provider: this.#provider.kind, code: result.code, addresses: Object.fromEntries(wanted) }, `ddns: ${result.name}: ${result.message}`));
        continue;
      }
      this.#failures[result.code] = (this.#failures[result.code] ?? 0) + 1;
      if (result.status === 'stop') stop ??= result;
      else retryAfter = Math.max(retryAfter, result.retryAfterMs ?? 0);
      tell.push(() => this.#logger[result.status === 'stop' ? 'error' : 'warn']({ name: result.name, provider: this.#provider.kind, code: result.code }, `ddns: ${result.name}: ${result.message}`));
    }
    const failed = results.some((r) => r.status === 'retry');
    if (failed) {
      this.#failuresInRow++;
      const backoff = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (this.#failuresInRow - 1));
      this.#retryAt = at + Math.max(backoff, retryAfter);
      this.#logger.warn({ retryAt: new Date(this.#retryAt).toISOString() }, `ddns: the update will be tried again in ${Math.round((this.#retryAt - at) / 1000)} s`);
    } else {
      this.#failuresInRow = 0;
      this.#retryAt = 0;
    }
    if (stop) {
      const stopped: StoppedState = { at, target, code: stop.code, message: stop.message };
      this.#state.stopped = stopped;
      this.#logger.error(`ddns: updates stopped: ${stop.message}. Fix the cause, then run kirin reload (or kirin ddns update --once --force)`);
      this.#onStop?.(stopped, results);
    }
    this.#state.save();
    for (const line of tell) line();
  }

  /** Says what detection found when it changes (not every five minutes). */
  #tellDetection(detection: Detection): void {
    const say = (key: string, text: string | null, level: 'info' | 'warn') => {
      if (text === null || this.#told.get(key) === text) return;
      this.#told.set(key, text);
      this.#logger[level](`ddns: ${text}`);
    };
    for (const [key, found] of [['ipv4', detection.ipv4], ['ipv6', detection.ipv6]] as const) {
      if (!found) continue;
      say(key, found.address ? `public ${key === 'ipv4' ? 'IPv4' : 'IPv6'} address ${found.address} (from ${found.source})` : found.problem, found.address ? 'info' : 'warn');
    }
    const reach = detection.reachability;
    if (reach) say('reachability', reach.message, reach.kind === 'cgnat' ? 'warn' : 'info');
  }
}
