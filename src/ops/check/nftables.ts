/**
 * Reading `nft list ruleset` well enough to answer one question: would a new
 * TCP connection to this port be dropped at the input hook?
 *
 *     table inet filter {
 *         set web { type inet_service; elements = { 80, 443 } }
 *         chain input {
 *             type filter hook input priority filter; policy drop;
 *             ct state established,related accept
 *             tcp dport { 22, 443 } accept
 *             tcp dport @web counter packets 0 bytes 0 accept
 *         }
 *     }
 *
 * Each table's input chain sees every packet, so a port must be accepted in
 * every table whose input chain drops by default. Rules in a table's other
 * chains count too (they are reached by jumps); that leans towards "allowed",
 * so the check stays quiet rather than wrong.
 */

export interface NftChain {
  name: string;
  hook: string | null;
  policy: string | null;
  rules: string[];
}

export interface NftTable {
  family: string;
  name: string;
  chains: NftChain[];
  /** Named sets: name → their elements as written. */
  sets: Map<string, string>;
}

const SERVICES: Record<string, number> = { http: 80, https: 443, ssh: 22, 'http-alt': 8080, domain: 53, smtp: 25 };

export function parseNftRuleset(text: string): NftTable[] {
  const tables: NftTable[] = [];
  // What each open brace opened; a block we do not read (flowtable, counter, ct helper …) is 'other'.
  const open: ('table' | 'chain' | 'set' | 'other')[] = [];
  let table: NftTable | null = null;
  let chain: NftChain | null = null;
  let set: { name: string; body: string[] } | null = null;
  for (const line of logicalLines(text)) {
    if (line === '}') {
      const closed = open.pop();
      if (closed === 'set' && set && table) {
        table.sets.set(set.name, elementsOf(set.body.join(' ')));
        set = null;
      } else if (closed === 'chain') chain = null;
      else if (closed === 'table') table = null;
      continue;
    }
    if (set) {
      set.body.push(line);
      continue;
    }
    const tableHead = /^table\s+(\S+)\s+(\S+)\s*\{$/.exec(line);
    if (tableHead && open.length === 0) {
      table = { family: tableHead[1]!, name: tableHead[2]!, chains: [], sets: new Map() };
      tables.push(table);
      open.push('table');
      continue;
    }
    const chainHead = /^chain\s+(\S+)\s*\{$/.exec(line);
    if (chainHead && table && open.length === 1) {
      chain = { name: chainHead[1]!, hook: null, policy: null, rules: [] };
      table.chains.push(chain);
      open.push('chain');
      continue;
    }
    const setHead = /^(?:set|map)\s+(\S+)\s*\{(.*?)(\})?$/.exec(line);
    if (setHead && table && open.length === 1) {
      if (setHead[3]) table.sets.set(setHead[1]!, elementsOf(setHead[2]!));
      else {
        set = { name: setHead[1]!, body: [] };
        open.push('set');
      }
      continue;
    }
    if (line.endsWith('{')) {
      open.push('other');
      continue;
    }
    if (!chain || open.at(-1) !== 'chain') continue;
    const base = /\btype\s+\w+\s+hook\s+(\w+)/.exec(line);
    if (base) {
      chain.hook = base[1]!;
      chain.policy = /\bpolicy\s+(\w+)/.exec(line)?.[1] ?? 'accept';
      continue;
    }
    chain.rules.push(line);
  }
  return tables;
}

/** Trimmed lines, with a rule or set whose braces span lines joined into one. */
function* logicalLines(text: string): Generator<string> {
  let pending = '';
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    pending = pending ? `${pending} ${line}` : line;
    const open = (pending.match(/\{/g) ?? []).length;
    const close = (pending.match(/\}/g) ?? []).length;
    // A line ending in "{" opens a block (table, chain, set); an unbalanced brace elsewhere continues on the next line.
    if (open > close && !pending.endsWith('{')) continue;
    yield pending;
    pending = '';
  }
  if (pending) yield pending;
}

function elementsOf(body: string): string {
  return /elements\s*=\s*\{([^}]*)\}/.exec(body)?.[1] ?? '';
}

function portsIn(list: string): [number, number][] {
  const ranges: [number, number][] = [];
  for (const item of list.split(',').map((s) => s.trim()).filter(Boolean)) {
    const range = /^(\d+)-(\d+)$/.exec(item);
    if (range) ranges.push([Number(range[1]), Number(range[2])]);
    else if (/^\d+$/.test(item)) ranges.push([Number(item), Number(item)]);
    else if (SERVICES[item] !== undefined) ranges.push([SERVICES[item]!, SERVICES[item]!]);
  }
  return ranges;
}

const DPORT = { tcp: /\b(?:tcp|th)\s+dport\s+(!=\s+)?(\{[^}]*\}|@\S+|\S+)/, udp: /\b(?:udp|th)\s+dport\s+(!=\s+)?(\{[^}]*\}|@\S+|\S+)/ };

/** The ports a rule accepts new TCP (or UDP) connections on, 'all' for a source-only accept, or null. */
function acceptedPorts(line: string, sets: Map<string, string>, proto: 'tcp' | 'udp'): [number, number][] | 'all' | null {
  const rule = line.replace(/\s+comment\s+"[^"]*"$/, '');
  if (!/\baccept$/.test(rule)) return null;
  const dport = DPORT[proto].exec(rule);
  if (dport) {
    if (dport[1]) return null;
    const value = dport[2]!;
    if (value.startsWith('{')) return portsIn(value.slice(1, -1));
    if (value.startsWith('@')) return portsIn(sets.get(value.slice(1)) ?? '');
    return portsIn(value);
  }
  // "ip saddr 192.168.1.0/24 accept": every port, from some sources — the user decided about these ports.
  if (/\bsaddr\b/.test(rule) && !/\b(ct|iif|iifname|icmp|icmpv6|udp|l4proto|protocol|dport)\b/.test(rule)) return 'all';
  return null;
}

function dropsByDefault(chain: NftChain): boolean {
  if (chain.policy === 'drop') return true;
  const last = chain.rules.at(-1);
  if (!last) return false;
  const verdict = last
    .replace(/\bcounter(\s+packets\s+\d+\s+bytes\s+\d+)?/g, '')
    .replace(/\blog(\s+prefix\s+"[^"]*")?(\s+level\s+\w+)?(\s+flags\s+\S+)?/g, '')
    .trim();
  return verdict === 'drop' || verdict.startsWith('reject');
}

/** The tables whose input chain would drop a new TCP connection (or UDP datagram) to `port`. */
export function nftBlockingTables(tables: NftTable[], port: number, proto: 'tcp' | 'udp' = 'tcp'): { table: NftTable; chain: NftChain }[] {
  const blocking: { table: NftTable; chain: NftChain }[] = [];
  for (const table of tables) {
    if (!['inet', 'ip', 'ip6'].includes(table.family)) continue;
    const input = table.chains.find((c) => c.hook === 'input' && dropsByDefault(c));
    if (!input) continue;
    const allowed = table.chains.some((c) =>
      c.rules.some((rule) => {
        const ports = acceptedPorts(rule, table.sets, proto);
        return ports === 'all' || (ports !== null && ports.some(([from, to]) => port >= from && port <= to));
      }),
    );
    if (!allowed) blocking.push({ table, chain: input });
  }
  return blocking;
}
