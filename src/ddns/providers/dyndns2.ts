/**
 * The dyndns2 protocol (Dyn's, spoken by No-IP and many registrars and router
 * makers): `GET /nic/update?hostname=a,b&myip=IPV4,IPV6` with basic auth and a
 * User-Agent in the form the services ask for. One answer line per host name,
 * in order. What each word means, and what a client must do about it:
 *
 *   good ADDR, nochg ADDR   success (nochg too often is abuse: we only send on change)
 *   badauth, nohost, notfqdn, numhost, badagent, abuse, !donator
 *                           stop: the user must fix something; never retried
 *   911, dnserr             the service has trouble: wait at least 30 minutes
 */
import type { Dyndns2Plan } from '../plan.ts';
import { forAll, type DdnsProvider, type NameResult, type UpdateRequest } from './provider.ts';
import { HttpProvider, isAnswer } from './http.ts';

export const SERVICE_TROUBLE_WAIT_MS = 30 * 60_000;

const STOP_WORDS: Record<string, string> = {
  badauth: 'the user name or password is wrong',
  nohost: 'the name does not exist in this account',
  notfqdn: 'the name is not a fully qualified domain name',
  numhost: 'too many names in one update, or a round-robin name',
  badagent: 'the service refuses this client (User-Agent); it must not send more updates',
  abuse: 'the account or name is blocked for abuse; no more updates until it is unblocked',
  '!donator': 'the update asked for a feature the account does not have',
};

export class Dyndns2Provider extends HttpProvider<Dyndns2Plan> implements DdnsProvider {
  readonly kind = 'dyndns2' as const;

  async update(request: UpdateRequest, signal: AbortSignal): Promise<NameResult[]> {
    const username = typeof this.plan.username === 'string' ? this.plan.username : this.secret(this.plan.username);
    const password = this.secret(this.plan.password);
    const myip = [request.ipv4, request.ipv6].filter((a): a is string => a !== null).join(',');
    const url = `${this.plan.server}/nic/update?hostname=${request.names.map(encodeURIComponent).join(',')}&myip=${encodeURIComponent(myip)}`;
    const answer = await this.send(url, { headers: { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` } }, signal);
    if (!isAnswer(answer)) return forAll(request.names, answer);
    if (answer.status === 401 || answer.status === 403) {
      // Some services answer a bad login with the status instead of the word.
      return forAll(request.names, { status: 'stop', code: 'badauth', message: `${this.target} refused the login (HTTP ${answer.status}): ${STOP_WORDS.badauth}` });
    }
    if (answer.status >= 500 || answer.status === 429) {
      return forAll(request.names, { status: 'retry', code: `http-${answer.status}`, message: `${this.target} answered HTTP ${answer.status}` });
    }
    const lines = answer.text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
    if (answer.status !== 200 || lines.length === 0) {
      return forAll(request.names, { status: 'retry', code: `http-${answer.status}`, message: `${this.target} answered HTTP ${answer.status} without a dyndns2 answer` });
    }
    // One line per name; a single error word (badauth, 911 …) may stand for all of them.
    return request.names.map((name, i) => ({ name, ...interpret(lines[i] ?? lines[0]!, this.target, myip) }));
  }
}

function interpret(line: string, target: string, sent: string): Omit<NameResult, 'name'> {
  const [word = '', rest = ''] = line.split(/\s+(.*)/s);
  if (word === 'good' || word === 'nochg') {
    // "good 127.0.0.1" for an address we did not send: the service ignored us (Dyn's answer to a refused agent).
    if (word === 'good' && rest === '127.0.0.1' && !sent.split(',').includes('127.0.0.1')) {
      return { status: 'stop', code: 'badagent', message: `${target} answered "good 127.0.0.1": ${STOP_WORDS.badagent}` };
    }
    return { status: 'updated', code: word, message: word === 'good' ? `${target} updated it to ${rest || sent}` : `${target} already had ${rest || sent}` };
  }
  if (word === '911' || word === 'dnserr') {
    return { status: 'retry', code: word, message: `${target} answered "${word}" (trouble on its side); the next try waits at least 30 minutes`, retryAfterMs: SERVICE_TROUBLE_WAIT_MS };
  }
  const reason = STOP_WORDS[word];
  if (reason) return { status: 'stop', code: word, message: `${target} answered "${word}": ${reason}` };
  return { status: 'retry', code: 'unknown', message: `${target} answered ${JSON.stringify(line.slice(0, 80))}, which is not a dyndns2 answer` };
}
