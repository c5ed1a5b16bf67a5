/**
 * Conditional requests (RFC 9110 §13) for a file: the preconditions in the
 * order the RFC evaluates them, and If-Range.
 *
 * Validators a client sends that do not parse — a garbage date, a broken
 * entity-tag list — are ignored (the request proceeds as if unconditional):
 * they must never turn into a 500 or a wrong 304.
 */
import type { IncomingHttpHeaders } from 'node:http';

export interface Validators {
  /** The strong entity tag, quoted: `"abc"`. */
  etag: string;
  /** Last-Modified as sent. */
  lastModified: string;
  /** Last-Modified in ms since the epoch, whole seconds. */
  modifiedMs: number;
}

export type Verdict = 'proceed' | 'not-modified' | 'precondition-failed';

/** For GET and HEAD: 304, 412 or go on. */
export function evaluatePreconditions(headers: IncomingHttpHeaders, v: Validators): Verdict {
  const ifMatch = headers['if-match'];
  if (ifMatch !== undefined) {
    if (!matchesTagList(ifMatch, v.etag, true)) return 'precondition-failed';
  } else {
    const since = headers['if-unmodified-since'];
    if (since !== undefined) {
      const date = parseHttpDate(since);
      if (date !== null && v.modifiedMs > date) return 'precondition-failed';
    }
  }
  const ifNoneMatch = headers['if-none-match'];
  if (ifNoneMatch !== undefined) {
    // If-None-Match wins over If-Modified-Since (§13.2.2).
    return matchesTagList(ifNoneMatch, v.etag, false) ? 'not-modified' : 'proceed';
  }
  const modifiedSince = headers['if-modified-since'];
  if (modifiedSince !== undefined) {
    if (modifiedSince === v.lastModified) return 'not-modified';
    const date = parseHttpDate(modifiedSince);
    if (date !== null && v.modifiedMs <= date) return 'not-modified';
  }
  return 'proceed';
}

/** If-Range: does the client's validator still name this representation? Otherwise the whole file is sent. */
export function ifRangeMatches(value: string, v: Validators): boolean {
  const trimmed = value.trim();
  if (trimmed.startsWith('"') || trimmed.startsWith('W/')) return trimmed === v.etag; // strong comparison: W/ never matches
  const date = parseHttpDate(trimmed);
  return date !== null && date === v.modifiedMs;
}

/**
 * Is `etag` in a comma-separated entity-tag list (or is the list `*`)?
 * Strong comparison refuses weak tags; weak comparison ignores the W/ prefix.
 */
export function matchesTagList(list: string, etag: string, strong: boolean): boolean {
  if (list === etag) return true;
  let i = 0;
  const n = list.length;
  while (i < n) {
    const c = list.charCodeAt(i);
    if (c === 32 || c === 9 || c === 44 /* , */) {
      i++;
      continue;
    }
    if (c === 42 /* * */) return true;
    let weak = false;
    if (c === 87 /* W */ && list.charCodeAt(i + 1) === 47 /* / */) {
      weak = true;
      i += 2;
    }
    if (list.charCodeAt(i) !== 34 /* " */) return false; // not a list of entity tags: no match
    const close = list.indexOf('"', i + 1);
    if (close === -1) return false;
    if ((!weak || !strong) && close + 1 - i === etag.length && list.startsWith(etag, i)) return true;
    i = close + 1;
  }
  return false;
}

const MONTHS: Record<string, number> = { Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11 };
const IMF_FIXDATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const RFC850_DATE = /^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\d{2})-([A-Z][a-z]{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const ASCTIME_DATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([A-Z][a-z]{2}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

/**
 * An HTTP-date in one of the three forms RFC 9110 §5.6.7 makes recipients
 * accept, as ms since the epoch; null for anything else. Stricter than
 * Date.parse, which reads '1' as the year 2001 and '9999' as a far future.
 */
export function parseHttpDate(value: string): number | null {
  let m = IMF_FIXDATE.exec(value);
  if (m) return toTime(Number(m[3]), m[2]!, Number(m[1]), m[4]!, m[5]!, m[6]!);
  m = RFC850_DATE.exec(value);
  if (m) {
    const yy = Number(m[3]);
    return toTime(yy < 70 ? 2000 + yy : 1900 + yy, m[2]!, Number(m[1]), m[4]!, m[5]!, m[6]!);
  }
  m = ASCTIME_DATE.exec(value);
  if (m) return toTime(Number(m[6]), m[1]!, Number(m[2]!.trim()), m[3]!, m[4]!, m[5]!);
  return null;
}

function toTime(year: number, monthName: string, day: number, hh: string, mm: string, ss: string): number | null {
  const month = MONTHS[monthName];
  const hours = Number(hh);
  const minutes = Number(mm);
  const seconds = Number(ss);
  if (month === undefined || day < 1 || day > 31 || hours > 23 || minutes > 59 || seconds > 60) return null;
  const time = Date.UTC(year, month, day, hours, minutes, Math.min(seconds, 59));
  // 31 Feb rolls over into March in Date.UTC: refuse it.
  return new Date(time).getUTCDate() === day ? time : null;
}
