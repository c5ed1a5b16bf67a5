/**
 * DuckDNS: `GET /update?domains=a,b&token=T&ip=IPV4&ipv6=IPV6&verbose=true`.
 * The answer is `OK` or `KO`; with verbose=true, `OK` is followed by the
 * addresses and `UPDATED` or `NOCHANGE`. KO means a wrong token or a domain
 * not in the account: retrying cannot fix either.
 *
 * Names are `sub.duckdns.org`; the API takes the `sub` part. An empty `ip`
 * makes DuckDNS take the address the request came from, which is what we
 * would send anyway when IPv4 is on.
 */
import type { DuckdnsPlan } from '../plan.ts';
import { forAll, type DdnsProvider, type NameResult, type UpdateRequest } from './provider.ts';
import { HttpProvider, isAnswer } from './http.ts';

export class DuckdnsProvider extends HttpProvider<DuckdnsPlan> implements DdnsProvider {
  readonly kind = 'duckdns' as const;

  async update(request: UpdateRequest, signal: AbortSignal): Promise<NameResult[]> {
    const domains = request.names.map(duckdnsDomain);
    const query = new URLSearchParams({ domains: domains.join(','), token: this.secret(this.plan.token), ip: request.ipv4 ?? '', verbose: 'true' });
    if (request.ipv6 !== null) query.set('ipv6', request.ipv6);
    const answer = await this.send(`${this.plan.server}/update?${query}`, {}, signal);
    if (!isAnswer(answer)) return forAll(request.names, answer);
    const [first = '', , , change = ''] = answer.text.split(/\r?\n/).map((l) => l.trim());
    if (answer.status !== 200) return forAll(request.names, { status: 'retry', code: `http-${answer.status}`, message: `${this.target} answered HTTP ${answer.status}` });
    if (first === 'OK') {
      const changed = change !== 'NOCHANGE';
      return forAll(request.names, { status: 'updated', code: 'OK', message: changed ? `${this.target} updated ${domains.join(', ')}` : `${this.target} already had these addresses` });
    }
    if (first === 'KO') return forAll(request.names, { status: 'stop', code: 'KO', message: `${this.target} answered KO: the token is wrong or ${domains.join(', ')} is not in the account` });
    return forAll(request.names, { status: 'retry', code: 'unknown', message: `${this.target} answered ${JSON.stringify(first.slice(0, 80))}, not OK or KO` });
  }
}

/** 'myhome.duckdns.org' → 'myhome' (a deeper name belongs to the same DuckDNS domain). */
export function duckdnsDomain(name: string): string {
  const labels = name.replace(/\.duckdns\.org$/, '').split('.');
  return labels[labels.length - 1]!;
}
