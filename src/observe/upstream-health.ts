/**
 * Upstream health as the master sees it. Every worker checks its upstreams and
 * reports changes (`env.notify('upstream-health', { route, url, healthy })`);
 * workers can disagree for a moment, so an upstream counts as down while any
 * live worker says so, and back up once none does. The result fills
 * `master.providers.upstreams` (dashboard, /metrics) and yields the transitions
 * alerts are made of.
 */
import type { UpstreamStatus } from '../master/providers.ts';
import { redactUrl } from './redact.ts';

export interface UpstreamReport {
  route: string;
  url: string;
  healthy: boolean;
}

export interface UpstreamTransition {
  route: string;
  url: string;
  healthy: boolean;
}

export function asUpstreamReport(value: unknown): UpstreamReport | null {
  if (typeof value !== 'object' || value === null) return null;
  const r = value as Partial<UpstreamReport>;
  if (typeof r.route !== 'string' || typeof r.url !== 'string' || typeof r.healthy !== 'boolean') return null;
  return { route: r.route, url: r.url, healthy: r.healthy };
}

export class UpstreamTracker {
  readonly #statuses: Map<string, UpstreamStatus>;
  /** key → pids of the workers whose last word was "down". */
  readonly #downVotes = new Map<string, Set<number>>();

  constructor(statuses: Map<string, UpstreamStatus>) {
    this.#statuses = statuses;
  }

  /** A worker's report; returns the transition it caused, if any. */
  report(pid: number, report: UpstreamReport, now = Date.now()): UpstreamTransition | null {
    const url = redactUrl(report.url);
    const key = `${report.route}\u0000${url}`;
    const votes = this.#downVotes.get(key) ?? new Set<number>();
    this.#downVotes.set(key, votes);
    if (report.healthy) votes.delete(pid);
    else votes.add(pid);
    return this.#settle(key, report.route, url, pid, now);
  }

  /** A worker exited: its votes no longer count. */
  forgetWorker(pid: number, now = Date.now()): UpstreamTransition[] {
    const transitions: UpstreamTransition[] = [];
    for (const [key, votes] of this.#downVotes) {
      if (!votes.delete(pid)) continue;
      const status = this.#statuses.get(key);
      if (!status) continue;
      const transition = this.#settle(key, status.route, status.url, status.reportedBy, now);
      if (transition) transitions.push(transition);
    }
    return transitions;
  }

  /**
   * The upstreams the plan names: new ones are listed as healthy until a worker
   * says otherwise (workers report changes only), and ones a reload removed are dropped.
   */
  sync(upstreams: readonly { route: string; url: string }[], now = Date.now()): void {
    const wanted = new Map(upstreams.map((u) => [`${u.route}\u0000${redactUrl(u.url)}`, u]));
    for (const key of this.#statuses.keys()) {
      if (wanted.has(key)) continue;
      this.#statuses.delete(key);
      this.#downVotes.delete(key);
    }
    for (const [key, u] of wanted) {
      if (!this.#statuses.has(key)) this.#statuses.set(key, { route: u.route, url: redactUrl(u.url), healthy: true, reportedBy: 0, since: now });
    }
  }

  #settle(key: string, route: string, url: string, pid: number, now: number): UpstreamTransition | null {
    const healthy = (this.#downVotes.get(key)?.size ?? 0) === 0;
    const previous = this.#statuses.get(key);
    if (previous && previous.healthy === healthy) return null;
    this.#statuses.set(key, { route, url, healthy, reportedBy: pid, since: now });
    // The first word about an upstream is not a change, unless it is bad news.
    if (!previous && healthy) return null;
    return { route, url, healthy };
  }
}
