/**
 * The master's list of ACME challenges being validated, mirrored in every
 * worker. `present` waits until each ready worker says it has the new list
 * (a CA that asks a worker which has not heard yet would fail the order), with
 * a deadline so a stuck worker cannot stall issuance.
 */
import type { ChallengeResponder, PresentedChallenge } from './acme.ts';
import type { ChallengeState, WorkerCertificate } from './messages.ts';

const APPLY_DEADLINE_MS = 3000;

export interface BoardHost {
  /** Sends the whole list to every worker. */
  publish(state: ChallengeState): void;
  /** PIDs of the workers that must have it before the CA is told to look. */
  readyWorkers(): number[];
}

export class ChallengeBoard implements ChallengeResponder {
  readonly #host: BoardHost;
  #version = 0;
  readonly #http01 = new Map<string, string>();
  readonly #alpn = new Map<string, WorkerCertificate>();
  readonly #applied = new Map<number, number>();
  #waiters: (() => void)[] = [];

  constructor(host: BoardHost) {
    this.#host = host;
  }

  state(): ChallengeState {
    return { version: this.#version, http01: Object.fromEntries(this.#http01), alpn: [...this.#alpn.values()] };
  }

  async present(challenge: PresentedChallenge): Promise<void> {
    if (challenge.type === 'http-01') this.#http01.set(challenge.token, challenge.keyAuthorization);
    else this.#alpn.set(challenge.name, { id: challenge.name, names: [challenge.name], certPem: challenge.certPem, keyPem: challenge.keyPem });
    const version = this.#publish();
    await this.#allApplied(version);
  }

  withdraw(challenge: PresentedChallenge): void {
    if (challenge.type === 'http-01') this.#http01.delete(challenge.token);
    else this.#alpn.delete(challenge.name);
    this.#publish();
  }

  /** A worker reports the version it now answers. */
  acknowledge(pid: number, version: number): void {
    this.#applied.set(pid, Math.max(version, this.#applied.get(pid) ?? 0));
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  #publish(): number {
    this.#version++;
    this.#host.publish(this.state());
    return this.#version;
  }

  async #allApplied(version: number): Promise<void> {
    const deadline = Date.now() + APPLY_DEADLINE_MS;
    while (this.#host.readyWorkers().some((pid) => (this.#applied.get(pid) ?? 0) < version)) {
      const left = deadline - Date.now();
      if (left <= 0) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}
