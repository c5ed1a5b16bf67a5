/**
 * Alerts: incidents worth waking someone for, sent to `notify.email` and
 * `notify.webhook`.
 *
 *   app-error            a 500 from the app, with stack and request (secrets removed)
 *   crash-loop           workers keep dying
 *   certificate-failed   a certificate could not be obtained or renewed
 *   upstream-down / -up  a proxy upstream went down / came back
 *   service-down / -up   a service went down / came back
 *   ddns-stopped         the DDNS provider refused updates (bad credentials, abuse …)
 *
 * Each problem gets at most one alert per 10 minutes (down-and-back pairs: one
 * of each), all problems together at most 30 an hour; the next alert says what
 * was held back. When something flaps, the state it settles in is told once
 * its window is over, so the last word in the inbox is never stale.
 */
import type { NotifyPlan } from '../../config/plan.ts';
import type { Logger } from '../log.ts';
import type { Incident, IncidentKind } from '../incidents.ts';
import { alertsConfigured } from './configured.ts';
import { EmailChannel } from './email.ts';
import { composeAlert, type AlertMessage } from './message.ts';
import { AlertThrottle } from './throttle.ts';
import { WebhookChannel } from './webhook.ts';

const ALERTED: ReadonlySet<IncidentKind> = new Set(['app-error', 'crash-loop', 'certificate-failed', 'upstream-down', 'upstream-up', 'service-down', 'service-up', 'ddns-stopped']);
const CLOSE_WAIT_MS = 5_000;

export interface AlerterOptions {
  /** Read on every alert, so a reload's new recipients apply at once. */
  notify: () => NotifyPlan;
  logger: Logger;
  throttle?: AlertThrottle;
  now?: () => number;
}

export class Alerter {
  readonly #notify: () => NotifyPlan;
  readonly #logger: Logger;
  readonly #throttle: AlertThrottle;
  readonly #now: () => number;
  readonly #email = new EmailChannel();
  readonly #webhook = new WebhookChannel();
  readonly #sending = new Set<Promise<void>>();
  /** For things that go down and come back: the last state an alert told, and the latest one seen. */
  readonly #toldState = new Map<string, 'down' | 'up'>();
  readonly #latest = new Map<string, Incident>();
  readonly #retries = new Map<string, NodeJS.Timeout>();

  constructor(options: AlerterOptions) {
    this.#notify = options.notify;
    this.#logger = options.logger;
    this.#throttle = options.throttle ?? new AlertThrottle();
    this.#now = options.now ?? Date.now;
  }

  get enabled(): boolean {
    return alertsConfigured(this.#notify());
  }

  handle(incident: Incident): void {
    if (!ALERTED.has(incident.kind) || !this.enabled) return;
    if (incident.state) this.#stateChange(incident, false);
    else this.#problem(incident);
  }

  #problem(incident: Incident): void {
    const admission = this.#throttle.admit(incident.signature, this.#now(), 1, incident.count);
    if (admission.send) this.#dispatch(incident, admission.heldBack + incident.count - 1, admission.heldBackByHourlyLimit);
  }

  #stateChange(incident: Incident, isRetry: boolean): void {
    const signature = incident.signature;
    this.#latest.set(signature, incident);
    // Nothing new to tell: e.g. back up before its "down" ever went out.
    if (incident.state === (this.#toldState.get(signature) ?? 'up')) return;
    const now = this.#now();
    const admission = this.#throttle.admit(signature, now, 2);
    if (!admission.send) {
      if (!this.#retries.has(signature)) {
        const timer = setTimeout(() => {
          this.#retries.delete(signature);
          const latest = this.#latest.get(signature);
          if (latest) this.#stateChange(latest, true);
        }, Math.max(0, admission.retryAt - now) + 50);
        timer.unref();
        this.#retries.set(signature, timer);
      }
      return;
    }
    this.#toldState.set(signature, incident.state!);
    // A retry re-sends an incident that was already counted as held back.
    this.#dispatch(incident, Math.max(0, admission.heldBack - (isRetry ? 1 : 0)), admission.heldBackByHourlyLimit);
  }

  #dispatch(incident: Incident, heldBack: number, heldBackByHourlyLimit: number): void {
    const plan = this.#notify();
    const alert = composeAlert(incident, { heldBack, heldBackByHourlyLimit, windowMs: this.#throttle.windowMs, perHour: this.#throttle.perHour });
    const deliveries: [string, Promise<void>][] = [];
    if (plan.email) deliveries.push([this.#email.describe(plan.email), this.#email.send(plan.email, alert)]);
    if (plan.webhook) deliveries.push([this.#webhook.describe(plan.webhook), this.#webhook.send(plan.webhook, alert)]);
    const sending = this.#report(alert, deliveries);
    this.#sending.add(sending);
    void sending.finally(() => this.#sending.delete(sending));
  }

  async #report(alert: AlertMessage, deliveries: [string, Promise<void>][]): Promise<void> {
    const results = await Promise.allSettled(deliveries.map(([, p]) => p));
    results.forEach((result, i) => {
      const where = deliveries[i]![0];
      if (result.status === 'fulfilled') this.#logger.info({ alert: alert.kind, to: where }, `alert sent (${where}): ${alert.subject}`);
      else this.#logger.warn({ alert: alert.kind, to: where, error: (result.reason as Error)?.message }, `alert NOT sent (${where}): ${(result.reason as Error)?.message ?? result.reason}`);
    });
  }

  /** Stops pending retries; waits a little for alerts on their way out (a crash-loop alert right before a stop). */
  async close(): Promise<void> {
    for (const timer of this.#retries.values()) clearTimeout(timer);
    this.#retries.clear();
    if (this.#sending.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...this.#sending]), new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS)))]);
      clearTimeout(timer);
    }
    this.#email.close();
  }
}
