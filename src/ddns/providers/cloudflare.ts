/**
 * Cloudflare API v4 with a scoped API token (Zone → DNS → Edit):
 *
 *   GET   /zones?name=ZONE                                  the zone's id (tried from the name up when no zone is set)
 *   GET   /zones/{zone}/dns_records?type=A&name=NAME        the record
 *   PATCH /zones/{zone}/dns_records/{id}   { content }      change only the address (TTL, proxying stay as the user set them)
 *   POST  /zones/{zone}/dns_records        { type, name, content, ttl, proxied: false }   when there is none
 *
 * Every answer is the v4 envelope { success, errors: [{ code, message }], result }.
 * Rate limit: 1200 requests per 5 minutes per user; past it, HTTP 429 with
 * Retry-After. Zone and record ids are remembered, so an update that changes
 * nothing costs one GET per record and a change one GET and one PATCH.
 */
import type { CloudflarePlan } from '../plan.ts';
import type { DdnsProvider, NameResult, UpdateRequest } from './provider.ts';
import { HttpProvider, isAnswer, retryAfterMs } from './http.ts';

interface Envelope<T> {
  success: boolean;
  errors?: { code: number; message: string }[];
  result: T;
}

interface DnsRecord {
  id: string;
  type: string;
  name: string;
  content: string;
}

/** A failed call, already in the words of a NameResult. */
class CallFailed extends Error {
  readonly result: Omit<NameResult, 'name'>;
  constructor(result: Omit<NameResult, 'name'>) {
    super(result.message);
    this.result = result;
  }
}

export class CloudflareProvider extends HttpProvider<CloudflarePlan> implements DdnsProvider {
  readonly kind = 'cloudflare' as const;
  /** Record name → its zone's id. */
  readonly #zoneIds = new Map<string, string>();


  async update(request: UpdateRequest, signal: AbortSignal): Promise<NameResult[]> {
    const results: NameResult[] = [];
    for (const name of request.names) {
      try {
        const zoneId = await this.#zoneFor(name, signal);
        const done: string[] = [];
        for (const [type, address] of [['A', request.ipv4], ['AAAA', request.ipv6]] as const) {
          if (address !== null) done.push(await this.#setRecord(zoneId, name, type, address, signal));
        }
        results.push({ name, status: 'updated', code: 'success', message: done.join('; ') });
      } catch (error) {
        if (!(error instanceof CallFailed)) throw error;
        results.push({ name, ...error.result });
        // Blocked or refused: the other names would get the same answer.
        if (error.result.code === 'http-429' || error.result.status === 'stop') {
          for (const rest of request.names.slice(results.length)) results.push({ name: rest, ...error.result });
          break;
        }
      }
    }
    return results;
  }

  async #setRecord(zoneId: string, name: string, type: 'A' | 'AAAA', address: string, signal: AbortSignal): Promise<string> {
    const records = await this.#call<DnsRecord[]>('GET', `/zones/${zoneId}/dns_records?type=${type}&name=${encodeURIComponent(name)}`, undefined, signal);
    const existing = records[0];
    if (existing && existing.content === address) return `${type} already ${address}`;
    if (existing) {
      await this.#call('PATCH', `/zones/${zoneId}/dns_records/${existing.id}`, { content: address }, signal);
      return `${type} ${existing.content} → ${address}`;
    }
    await this.#call('POST', `/zones/${zoneId}/dns_records`, { type, name, content: address, ttl: this.plan.ttl, proxied: false }, signal);
    return `${type} created with ${address}`;
  }

  /** The configured zone, else the longest suffix of the name that is a zone of the account. */
  async #zoneFor(name: string, signal: AbortSignal): Promise<string> {
    const known = this.#zoneIds.get(name);
    if (known) return known;
    const candidates = this.plan.zone ? [this.plan.zone] : suffixes(name);
    for (const zone of candidates) {
      const found = await this.#call<{ id: string; name: string }[]>('GET', `/zones?name=${encodeURIComponent(zone)}`, undefined, signal);
      if (found[0]) {
        this.#zoneIds.set(name, found[0].id);
        return found[0].id;
      }
    }
    throw new CallFailed({ status: 'stop', code: 'no-zone', message: `no zone for ${name} in this Cloudflare account (tried ${candidates.join(', ')}); set ddns.zone, or give the token Zone:Read on it` });
  }

  async #call<T>(method: string, path: string, body: unknown, signal: AbortSignal): Promise<T> {
    const answer = await this.send(
      `${this.plan.server}${path}`,
      { method, headers: { authorization: `Bearer ${this.secret(this.plan.token)}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) },
      signal,
    );
    if (!isAnswer(answer)) throw new CallFailed(answer);
    if (answer.status === 429) {
      const wait = retryAfterMs(answer.headers);
      throw new CallFailed({ status: 'retry', code: 'http-429', message: `${this.target} is rate-limiting this token (1200 requests per 5 minutes)${wait !== null ? `; it asks to wait ${Math.ceil(wait / 1000)} s` : ''}`, ...(wait !== null ? { retryAfterMs: wait } : {}) });
    }
    let envelope: Envelope<T> | null = null;
    try {
      envelope = JSON.parse(answer.text) as Envelope<T>;
    } catch {
      // Not JSON (a proxy's error page): judged by the status below.
    }
    const errors = envelope?.errors?.map((e) => `${e.code} ${e.message}`).join('; ') ?? '';
    if (answer.status === 401 || answer.status === 403) {
      throw new CallFailed({ status: 'stop', code: `http-${answer.status}`, message: `${this.target} refused the token (HTTP ${answer.status}${errors ? `: ${errors}` : ''}); it needs Zone → DNS → Edit on the zone` });
    }
    if (answer.status >= 500 || !envelope) {
      throw new CallFailed({ status: 'retry', code: `http-${answer.status}`, message: `${this.target} answered HTTP ${answer.status}${errors ? `: ${errors}` : ''}` });
    }
    if (!envelope.success || answer.status >= 400) {
      const code = envelope.errors?.[0]?.code;
      throw new CallFailed({ status: 'stop', code: code === undefined ? `http-${answer.status}` : `cf-${code}`, message: `${this.target} refused ${method} ${path.split('?')[0]}: ${errors || `HTTP ${answer.status}`}` });
    }
    return envelope.result;
  }
}

/** 'www.example.com' → ['www.example.com', 'example.com'] (the name may be a zone's apex; never a bare TLD). */
function suffixes(name: string): string[] {
  const labels = name.split('.');
  const out: string[] = [];
  for (let i = 0; i <= labels.length - 2; i++) out.push(labels.slice(i).join('.'));
  return out;
}
