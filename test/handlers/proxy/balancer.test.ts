import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createBalancer, type Balanced } from '../../../src/handlers/proxy/balancer.ts';
import type { LoadBalancing } from '../../../src/config/types.ts';

interface FakeTarget extends Balanced {
  key: string;
  active: number;
  up: boolean;
}

function targets(n: number): FakeTarget[] {
  return Array.from({ length: n }, (_, i) => ({ key: `http://127.0.0.1:${9001 + i}`, active: 0, up: true }));
}

const up = (t: FakeTarget) => t.up;
const POLICIES: LoadBalancing[] = ['round_robin', 'least_conn', 'ip_hash', 'random'];

// The contract every policy keeps (Caddy's and Hono's habit: one suite for interchangeable parts).
for (const policy of POLICIES) {
  describe(`balancer contract: ${policy}`, () => {
    it('never picks a target the caller cannot use', () => {
      const balancer = createBalancer<FakeTarget>(policy);
      const list = targets(4);
      list[1]!.up = false;
      list[3]!.up = false;
      for (let i = 0; i < 200; i++) {
        const picked = balancer.pick(list, up, `10.0.${i % 7}.${i}`);
        assert.ok(picked === list[0] || picked === list[2], `picked ${picked?.key}`);
      }
    });

    it('returns null when no target is usable', () => {
      const balancer = createBalancer<FakeTarget>(policy);
      const list = targets(3).map((t) => ({ ...t, up: false }));
      assert.equal(balancer.pick(list, up, '10.0.0.1'), null);
      assert.equal(balancer.pick([], up, '10.0.0.1'), null);
    });

    it('reaches every usable target over many clients', () => {
      const balancer = createBalancer<FakeTarget>(policy);
      const list = targets(3);
      const seen = new Set<string>();
      for (let i = 0; i < 300; i++) seen.add(balancer.pick(list, up, `192.168.${i % 256}.${(i * 7) % 256}`)!.key);
      assert.equal(seen.size, 3);
    });
  });
}

describe('round_robin', () => {
  it('takes each target in turn and skips the unusable ones without losing its place', () => {
    const balancer = createBalancer<FakeTarget>('round_robin');
    const list = targets(3);
    const order = Array.from({ length: 6 }, () => Number(balancer.pick(list, up, '')!.key.slice(-1)));
    // Wherever a worker starts, it goes 1 → 2 → 3 → 1 …
    for (let i = 1; i < order.length; i++) assert.equal(order[i], (order[i - 1]! % 3) + 1, `order ${order}`);
    list[1]!.up = false;
    const skipping = Array.from({ length: 4 }, () => balancer.pick(list, up, '')!.key.slice(-1));
    assert.ok(['1,3,1,3', '3,1,3,1'].includes(skipping.join(',')), `skipping ${skipping}`);
  });
});

describe('least_conn', () => {
  it('picks the target with the fewest requests in flight', () => {
    const balancer = createBalancer<FakeTarget>('least_conn');
    const list = targets(3);
    list[0]!.active = 5;
    list[1]!.active = 1;
    list[2]!.active = 3;
    assert.equal(balancer.pick(list, up, '')!.key, list[1]!.key);
  });

  it('spreads ties instead of always choosing the first', () => {
    const balancer = createBalancer<FakeTarget>('least_conn');
    const list = targets(3);
    const seen = new Set(Array.from({ length: 3 }, () => balancer.pick(list, up, '')!.key));
    assert.equal(seen.size, 3);
  });
});

describe('ip_hash', () => {
  it('sends one client address to the same target every time', () => {
    const balancer = createBalancer<FakeTarget>('ip_hash');
    const list = targets(4);
    for (const ip of ['10.0.0.1', '203.0.113.9', '2001:db8::1']) {
      const first = balancer.pick(list, up, ip)!.key;
      for (let i = 0; i < 20; i++) assert.equal(balancer.pick(list, up, ip)!.key, first);
    }
  });

  it('moves only the clients of a target that goes down', () => {
    const balancer = createBalancer<FakeTarget>('ip_hash');
    const list = targets(4);
    const clients = Array.from({ length: 200 }, (_, i) => `10.1.${i >> 8}.${i & 255}`);
    const before = new Map(clients.map((ip) => [ip, balancer.pick(list, up, ip)!.key]));
    list[2]!.up = false;
    for (const ip of clients) {
      const after = balancer.pick(list, up, ip)!.key;
      if (before.get(ip) !== list[2]!.key) assert.equal(after, before.get(ip), `${ip} moved although its target stayed up`);
      else assert.notEqual(after, list[2]!.key);
    }
  });
});
