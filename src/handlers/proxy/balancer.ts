/**
 * Load-balancing policies: which of a route's upstreams gets the next request.
 *
 * Every policy has the same contract (test/handlers/proxy/balancer.test.ts):
 * it only picks a target `usable` allows, returns null when none is usable,
 * and over many requests reaches every usable target.
 *
 *   round_robin  each usable target in turn
 *   least_conn   the fewest requests in flight from this worker; ties in turn
 *   ip_hash      the same client address → the same target while it is usable
 *                (rendezvous hashing: a target going down moves only its clients)
 *   random       uniformly among the usable ones
 */
import type { LoadBalancing } from '../../config/types.ts';

export interface Balanced {
  /** A stable identity (the upstream URL). */
  readonly key: string;
  /** Requests in flight. */
  readonly active: number;
}

export interface Balancer<T extends Balanced> {
  pick(targets: readonly T[], usable: (target: T) => boolean, clientIp: string): T | null;
}

export function createBalancer<T extends Balanced>(policy: LoadBalancing): Balancer<T> {
  switch (policy) {
    case 'round_robin':
      return new RoundRobin<T>();
    case 'least_conn':
      return new LeastConnections<T>();
    case 'ip_hash':
      return new IpHash<T>();
    case 'random':
      return new RandomChoice<T>();
  }
}

/** Each worker starts its rotation somewhere else, so a few requests spread over several workers still reach every target. */
function randomStart(): number {
  return Math.floor(Math.random() * 0x10000);
}

class RoundRobin<T extends Balanced> implements Balancer<T> {
  #next = randomStart();
  pick(targets: readonly T[], usable: (target: T) => boolean): T | null {
    const n = targets.length;
    for (let i = 0; i < n; i++) {
      const index = (this.#next + i) % n;
      const target = targets[index]!;
      if (usable(target)) {
        this.#next = (index + 1) % n;
        return target;
      }
    }
    return null;
  }
}

class LeastConnections<T extends Balanced> implements Balancer<T> {
  #start = randomStart();
  pick(targets: readonly T[], usable: (target: T) => boolean): T | null {
    const n = targets.length;
    let best: T | null = null;
    let bestIndex = 0;
    // Scanning from a rotating start spreads ties instead of always favouring the first target.
    for (let i = 0; i < n; i++) {
      const index = (this.#start + i) % n;
      const target = targets[index]!;
      if (!usable(target)) continue;
      if (best === null || target.active < best.active) {
        best = target;
        bestIndex = index;
      }
    }
    if (best !== null) this.#start = (bestIndex + 1) % n;
    return best;
  }
}

class IpHash<T extends Balanced> implements Balancer<T> {
  readonly #seeds = new Map<string, number>();
  pick(targets: readonly T[], usable: (target: T) => boolean, clientIp: string): T | null {
    const client = fnv1a(clientIp);
    let best: T | null = null;
    let bestScore = -1;
    for (const target of targets) {
      if (!usable(target)) continue;
      let seed = this.#seeds.get(target.key);
      if (seed === undefined) {
        seed = fnv1a(target.key);
        this.#seeds.set(target.key, seed);
      }
      const score = mix32(client ^ seed);
      if (score > bestScore) {
        best = target;
        bestScore = score;
      }
    }
    return best;
  }
}

class RandomChoice<T extends Balanced> implements Balancer<T> {
  pick(targets: readonly T[], usable: (target: T) => boolean): T | null {
    // Reservoir sampling: uniform over the usable targets in one pass, no array built.
    let chosen: T | null = null;
    let seen = 0;
    for (const target of targets) {
      if (!usable(target)) continue;
      seen++;
      if (Math.random() * seen < 1) chosen = target;
    }
    return chosen;
  }
}

/** FNV-1a, 32 bits. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** MurmurHash3's finalizer: spreads the bits so nearby inputs score far apart. */
function mix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
