/**
 * The last errors, for the dashboard: app errors (500s with their stack),
 * workers that crashed or hung, failed reloads, crash loops, certificates that
 * failed, upstreams and services that went down. Repeats of the same error are
 * folded into one entry with a count, so one noisy error cannot push the others out.
 */

import type { Incident, IncidentKind } from './incidents.ts';
import { cut } from './redact.ts';

export interface RecentError {
  kind: IncidentKind;
  /** Same signature = same error; folded together. */
  signature: string;
  /** One line: "GET /boom → Error: boom". */
  title: string;
  /** Stack, request, details: several lines, for the expanded view. */
  detail: string;
  firstSeen: number;
  lastSeen: number;
  count: number;
}

export const RECENT_ERRORS = 50;
/** The dashboard polls every second: details are cut so the list stays small (alerts carry the whole text). */
const MAX_DETAIL = 6_000;

export class RecentErrors {
  readonly #entries: RecentError[] = [];
  readonly #capacity: number;

  constructor(capacity = RECENT_ERRORS) {
    this.#capacity = capacity;
  }

  /** Records an incident; "came back" news (upstream-up, service-up) is not an error and is left out. */
  add(entry: Incident): void {
    if (entry.state === 'up') return;
    const time = entry.time;
    const count = entry.count;
    const index = this.#entries.findIndex((e) => e.signature === entry.signature);
    if (index !== -1) {
      const [existing] = this.#entries.splice(index, 1);
      existing!.lastSeen = time;
      existing!.count += count;
      existing!.title = entry.title;
      existing!.detail = cut(entry.detail, MAX_DETAIL);
      this.#entries.unshift(existing!);
      return;
    }
    this.#entries.unshift({ kind: entry.kind, signature: entry.signature, title: entry.title, detail: cut(entry.detail, MAX_DETAIL), firstSeen: time, lastSeen: time, count });
    if (this.#entries.length > this.#capacity) this.#entries.length = this.#capacity;
  }

  /** Newest first. */
  list(): readonly RecentError[] {
    return this.#entries;
  }
}
