/**
 * The firewall readers, on the output formats real `ufw status verbose`,
 * `ufw status numbered` and `nft list ruleset` print.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nftBlockingTables, parseNftRuleset } from '../../src/ops/check/nftables.ts';
import { parseUfwStatus, ufwAllows } from '../../src/ops/check/ufw.ts';
import { fixture } from './audit-support.ts';

describe('ufw status', () => {
  it('reads app profiles with their ports, (v6) markers and trailing spaces', () => {
    const status = parseUfwStatus(fixture('firewall/ufw-verbose-app-profiles.txt'));
    assert.equal(status.active, true);
    assert.equal(status.defaultIncoming, 'deny');
    assert.equal(status.rules.length, 6);
    assert.deepEqual(status.rules[1], { ports: [[80, 80], [443, 443]], proto: 'tcp', action: 'ALLOW', direction: 'IN', from: 'Anywhere' });
    assert.deepEqual(status.rules[4]!.ports, [[80, 80], [443, 443]]);
    for (const port of [22, 80, 443, 5055]) assert.equal(ufwAllows(status, port), true, String(port));
    assert.equal(ufwAllows(status, 8000), false);
  });

  it('reads ranges, interfaces, LIMIT, DENY and OUT rules', () => {
    const status = parseUfwStatus(fixture('firewall/ufw-verbose-ssh-only.txt'));
    assert.deepEqual(status.rules[1], { ports: [[2333, 2333]], proto: 'tcp', action: 'ALLOW', direction: 'IN', from: '10.0.0.0/8' });
    assert.deepEqual(status.rules[2]!.ports, [[8000, 8100]]);
    assert.equal(status.rules[3]!.action, 'LIMIT');
    assert.deepEqual(status.rules[4], { ports: 'any', proto: 'any', action: 'REJECT', direction: 'OUT', from: '192.0.2.1' });
    assert.equal(ufwAllows(status, 22), true);
    assert.equal(ufwAllows(status, 8050), false, 'a DENY range is not an allow');
    assert.equal(ufwAllows(status, 443), false);
  });

  it('reads numbered output with comments', () => {
    const status = parseUfwStatus(fixture('firewall/ufw-numbered-comments.txt'));
    assert.equal(status.rules.length, 5);
    assert.equal(status.rules[1]!.from, 'Anywhere');
    assert.equal(ufwAllows(status, 443), true);
    assert.equal(ufwAllows(status, 8080), true, 'a source-restricted allow counts: the user decided about that port');
    assert.equal(ufwAllows(status, 80), false);
  });

  it('inactive, or default allow: everything passes', () => {
    assert.equal(ufwAllows(parseUfwStatus(fixture('firewall/ufw-inactive.txt')), 80), true);
    const open = parseUfwStatus(fixture('firewall/ufw-default-allow.txt'));
    assert.equal(open.defaultIncoming, 'allow');
    assert.equal(ufwAllows(open, 80), true);
  });
});

describe('nft list ruleset', () => {
  it('reads tables, base chains, policies and multi-line named sets', () => {
    const tables = parseNftRuleset(fixture('firewall/nft-server-ssh-only.txt'));
    assert.deepEqual(tables.map((t) => `${t.family} ${t.name}`), ['inet filter', 'ip nat']);
    const input = tables[0]!.chains.find((c) => c.name === 'input')!;
    assert.equal(input.hook, 'input');
    assert.equal(input.policy, 'drop');
    assert.equal(input.rules.length, 9);
    assert.match(tables[0]!.sets.get('admin_ports')!, /22, 2222,\s+9100/);
  });

  it('a drop-policy input chain blocks ports it has no accept for', () => {
    const tables = parseNftRuleset(fixture('firewall/nft-server-ssh-only.txt'));
    assert.deepEqual(nftBlockingTables(tables, 9100), [], 'in the named set');
    assert.equal(nftBlockingTables(tables, 443).length, 1, 'udp 443 and "dport != 443" do not open tcp 443');
    assert.equal(nftBlockingTables(tables, 80)[0]!.chain.name, 'input');
  });

  it('a final reject makes an accept-policy chain block; sets, ranges and comments open ports', () => {
    const tables = parseNftRuleset(fixture('firewall/nft-server-web.txt'));
    for (const port of [22, 80, 443, 8050]) assert.deepEqual(nftBlockingTables(tables, port), [], String(port));
    assert.equal(nftBlockingTables(tables, 9000).length, 1);
    assert.equal(nftBlockingTables(tables, 9000)[0]!.table.family, 'inet', "docker's accept-policy ip filter table does not block");
  });

  it("iptables-nft rules (ufw's backend) are read through their jumps", () => {
    const tables = parseNftRuleset(fixture('firewall/nft-iptables-ufw-backend.txt'));
    assert.deepEqual(nftBlockingTables(tables, 22), []);
    assert.deepEqual(nftBlockingTables(tables, 80), [], 'source-restricted accept');
    assert.equal(nftBlockingTables(tables, 443).length, 1);
  });

  it("Debian's default ruleset (policy accept everywhere) blocks nothing", () => {
    assert.deepEqual(nftBlockingTables(parseNftRuleset(fixture('firewall/nft-debian-default.txt')), 80), []);
  });
});
