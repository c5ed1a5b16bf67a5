/**
 * Asking echo services ("what address do you see me from?") over IPv4 or IPv6
 * only. Two services must give the same public address before it is believed:
 * one that is down, wrong or lying cannot move the names.
 */
import { Agent, fetch } from 'undici';
import { isIP } from 'node:net';
import { canonicalIp } from '../../net/ip.ts';
import { isPublicAddress } from './ranges.ts';

export type EchoOutcome = { ok: true; address: string; agreeing: string[] } | { ok: false; reason: string };

/** Echo services answer in a few hundred ms; 10 s covers a slow mobile uplink without holding a check for long. */
export const ECHO_TIMEOUT_MS = 10_000;
const MAX_ANSWER_BYTES = 512;

export class EchoClient {
  readonly #agents = new Map<4 | 6, Agent>();
  readonly #timeoutMs: number;

  constructor(options: { timeoutMs?: number } = {}) {
    this.#timeoutMs = options.timeoutMs ?? ECHO_TIMEOUT_MS;
  }

  /**
   * Asks the first two services; when they do not agree (or one fails), the
   * rest too, and believes an address two of them gave. A list of one is
   * believed alone (the config allows that for IPv6 only).
   */
  async publicAddress(urls: readonly string[], family: 4 | 6, signal?: AbortSignal): Promise<EchoOutcome> {
    if (urls.length === 0) return { ok: false, reason: `no IPv${family} echo services are configured` };
    const needed = Math.min(2, urls.length);
    const answers = await Promise.all(urls.slice(0, 2).map((url) => this.#ask(url, family, signal)));
    let agreed = agreement(answers, needed);
    if (!agreed && urls.length > 2) {
      answers.push(...(await Promise.all(urls.slice(2).map((url) => this.#ask(url, family, signal)))));
      agreed = agreement(answers, needed);
    }
    if (agreed) return { ok: true, address: agreed.address, agreeing: agreed.urls };
    const told = answers.map((a) => `${origin(a.url)} ${'address' in a ? `said ${a.address}` : a.error}`).join('; ');
    const anyAnswer = answers.some((a) => 'address' in a);
    return { ok: false, reason: anyAnswer ? `the IPv${family} echo services do not agree (${told})` : `no IPv${family} echo service gave a usable answer (${told})` };
  }

  close(): void {
    for (const agent of this.#agents.values()) void agent.close();
    this.#agents.clear();
  }

  async #ask(url: string, family: 4 | 6, signal?: AbortSignal): Promise<{ url: string; address: string } | { url: string; error: string }> {
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    try {
      const res = await fetch(url, {
        dispatcher: this.#agent(family),
        headers: { accept: 'text/plain' },
        redirect: 'error',
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      const body = (await readLimited(res.body as AsyncIterable<Uint8Array> | null, MAX_ANSWER_BYTES)).trim();
      if (!res.ok) return { url, error: `answered HTTP ${res.status}` };
      const address = isIP(body) === family ? canonicalIp(body) : null;
      if (!address) return { url, error: `answered ${JSON.stringify(body.slice(0, 60))}, not an IPv${family} address` };
      if (!isPublicAddress(address)) return { url, error: `said ${address}, which is not a public address` };
      return { url, address };
    } catch (error) {
      if (timeout.aborted) return { url, error: `did not answer within ${this.#timeoutMs / 1000} s` };
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      return { url, error: `failed (${cause?.code ?? cause?.message ?? (error as Error).message})` };
    }
  }

  #agent(family: 4 | 6): Agent {
    let agent = this.#agents.get(family);
    if (!agent) {
      // The family is forced at connect time: over IPv4 the service can only see the IPv4 address, and the other way round.
      agent = new Agent({ connect: { family, timeout: this.#timeoutMs }, headersTimeout: this.#timeoutMs, bodyTimeout: this.#timeoutMs });
      this.#agents.set(family, agent);
    }
    return agent;
  }
}

function agreement(answers: readonly ({ url: string; address: string } | { url: string; error: string })[], needed: number): { address: string; urls: string[] } | null {
  const byAddress = new Map<string, string[]>();
  for (const answer of answers) {
    if (!('address' in answer)) continue;
    const urls = byAddress.get(answer.address) ?? [];
    urls.push(answer.url);
    byAddress.set(answer.address, urls);
  }
  for (const [address, urls] of byAddress) if (urls.length >= needed) return { address, urls };
  return null;
}

async function readLimited(body: AsyncIterable<Uint8Array> | null, max: number): Promise<string> {
  if (!body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.byteLength;
    if (size >= max) break;
  }
  return Buffer.concat(chunks).subarray(0, max).toString('utf8');
}

function origin(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}
