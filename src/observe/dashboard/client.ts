/**
 * The dashboard's script, run by the browser. It polls api/status every second
 * and redraws the tables and the two SVG charts; every value goes in with
 * textContent, never as HTML.
 *
 * Written as one self-contained function so the type checker sees it, and the
 * admin listener serves `(${dashboardApp})(${formatDuration})` — the compiled
 * functions' own source. It must not use anything from outside its body but
 * what it is passed (types are erased: the server's own status types are the vocabulary).
 */
import type { RelayStatus } from '../../relay/stats.ts';

export function dashboardApp(duration: (ms: number) => string): void {
  interface Point {
    t: number;
    rate: number;
    errorRate: number;
    avgMs: number | null;
    p95Ms: number | null;
  }
  interface Status {
    now: number;
    version: string;
    host: string;
    master: { pid: number; startedAt: number; generation: number; targetWorkers: number; listeners: string[] };
    health: { ok: boolean; reasons: string[] };
    readiness: { ok: boolean; reasons: string[] };
    workers: { pid: number; generation: number; index: number; state: string; uptimeMs: number; rss: number; served: number; inflight: number; websockets: number; restarts: number }[];
    totals: { requests: number; errors: number; inflight: number; restarts: Record<string, number>; reloads: { ok: number; failed: number } };
    sites: { key: string; hosts: string[]; tls: string; routes: { prefix: string; handler: string; target: string; middleware: string[] }[] }[];
    services: { name: string; pid: number | null; state: string; restarts: number; upstream: string }[];
    upstreams: { route: string; url: string; healthy: boolean; since: number }[];
    certificates: { names: string[]; source: string; issuer: string; state: string; notAfter: number; renewAt: number | null; lastError: string | null }[] | null;
    history: { stepMs: number; points: Point[] };
    errors: { kind: string; title: string; detail: string; firstSeen: number; lastSeen: number; count: number; signature: string }[];
    ddns: {
      provider: string;
      target: string;
      detection: { reachability: { kind: string; message: string } | null } | null;
      names: { name: string; records: { A?: { address: string }; AAAA?: { address: string } }; last: { at: number; status: string; code: string; message: string } | null }[];
      stopped: { message: string } | null;
    } | null;
    relay: RelayStatus | null;
  }

  const POLL_MS = 1000;
  const SVG = 'http://www.w3.org/2000/svg';
  const open = new Set<string>();

  function byId(id: string): HTMLElement {
    const el = document.getElementById(id);
    if (!el) throw new Error(`the page has no #${id}`);
    return el;
  }

  function text(id: string, value: string): void {
    byId(id).textContent = value;
  }

  function cell(row: HTMLTableRowElement, value: string | number, className?: string): HTMLTableCellElement {
    const td = row.insertCell();
    td.textContent = String(value);
    if (className) td.className = className;
    return td;
  }

  function fillTable<T>(id: string, items: T[], columns: number, empty: string, fill: (row: HTMLTableRowElement, item: T) => void): void {
    const body = byId(id).querySelector('tbody')!;
    const rows = document.createDocumentFragment();
    for (const item of items) {
      const row = document.createElement('tr');
      fill(row, item);
      rows.appendChild(row);
    }
    if (items.length === 0) {
      const row = document.createElement('tr');
      const td = cell(row, empty, 'empty');
      td.colSpan = columns;
      rows.appendChild(row);
    }
    body.replaceChildren(rows);
  }

  function megabytes(bytes: number): string {
    return bytes > 0 ? `${(bytes / 1048576).toFixed(1)} MB` : '–';
  }

  function number(n: number, digits = 0): string {
    return n.toLocaleString(undefined, { maximumFractionDigits: digits, minimumFractionDigits: digits });
  }

  function clock(t: number): string {
    return new Date(t).toLocaleTimeString();
  }

  function untilText(t: number, now: number): string {
    const days = (t - now) / 86400000;
    if (days < 0) return `expired ${number(-days, 0)} days ago`;
    return days < 2 ? `in ${duration(t - now)}` : `in ${number(days, 0)} days`;
  }

  function render(s: Status): void {
    text('host', `${s.host} · master ${s.master.pid} · generation ${s.master.generation}`);
    const health = byId('health');
    health.textContent = s.health.ok ? 'healthy' : 'unhealthy';
    health.className = `badge ${s.health.ok ? 'ok' : 'bad'}`;
    const ready = byId('ready');
    ready.textContent = s.readiness.ok ? 'ready' : 'not ready';
    ready.className = `badge ${s.readiness.ok ? 'ok' : 'bad'}`;
    const reasons = byId('reasons');
    reasons.hidden = s.readiness.ok;
    reasons.textContent = s.readiness.reasons.join(' · ');
    text('connection', `updated ${clock(s.now)}`);
    text('version', `Kirin ${s.version}`);

    const last = s.history.points[s.history.points.length - 1];
    text('card-rate', last ? number(last.rate, 1) : '–');
    text('card-errors', last ? number(last.errorRate, 1) : '–');
    text('card-p95', last && last.p95Ms !== null ? `${number(last.p95Ms, 1)} ms` : '–');
    text('card-inflight', number(s.totals.inflight));
    text('card-total', number(s.totals.requests));
    text('card-uptime', duration(s.now - s.master.startedAt));

    chart('chart-rate', s.history, [
      { className: 's1', value: (p) => p.rate, area: true },
      { className: 's2', value: (p) => p.errorRate, area: false },
    ]);
    chart('chart-latency', s.history, [
      { className: 's1', value: (p) => p.p95Ms, area: false },
      { className: 's3', value: (p) => p.avgMs, area: false },
    ]);

    const serving = s.workers.filter((w) => w.state === 'ready').length;
    text('workers-summary', `${serving} serving, ${s.master.targetWorkers} wanted`);
    fillTable('workers', s.workers, 10, 'no workers', (row, w) => {
      row.dataset.pid = String(w.pid);
      cell(row, w.index);
      cell(row, w.pid, 'pid');
      cell(row, w.generation);
      cell(row, w.state, `state-${w.state}`);
      cell(row, duration(w.uptimeMs));
      cell(row, megabytes(w.rss));
      cell(row, number(w.served));
      cell(row, w.inflight);
      cell(row, w.websockets ?? 0);
      cell(row, w.restarts);
    });
    const restarts = Object.entries(s.totals.restarts).filter(([, n]) => n > 0).map(([reason, n]) => `${reason} ${n}`);
    text('restarts', `Restarts: ${restarts.length ? restarts.join(', ') : 'none'} · reloads: ${s.totals.reloads.ok} ok, ${s.totals.reloads.failed} failed`);

    const routes = s.sites.flatMap((site) => site.routes.map((route, i) => ({ site, route, first: i === 0 })));
    fillTable('sites', routes, 6, 'no sites', (row, { site, route, first }) => {
      cell(row, first ? site.key : '', 'wrap');
      cell(row, first ? site.tls : '');
      cell(row, route.prefix);
      cell(row, route.handler);
      cell(row, route.target, 'wrap');
      cell(row, route.middleware.join(', ') || '–');
    });
    fillTable('services', s.services, 5, 'no services', (row, svc) => {
      cell(row, svc.name);
      cell(row, svc.state, `state-${svc.state}`);
      cell(row, svc.pid ?? '–');
      cell(row, svc.restarts);
      cell(row, svc.upstream, 'wrap');
    });
    fillTable('upstreams', s.upstreams, 4, 'no proxy upstreams reported', (row, u) => {
      cell(row, u.route, 'wrap');
      cell(row, u.url, 'wrap');
      cell(row, u.healthy ? 'healthy' : 'down', u.healthy ? 'state-healthy' : 'state-down');
      cell(row, clock(u.since));
    });
    fillTable('certificates', s.certificates ?? [], 6, s.certificates === null ? 'no TLS certificates managed' : 'no certificates', (row, c) => {
      cell(row, c.names.join(', '), 'wrap');
      cell(row, c.source);
      cell(row, c.issuer, 'wrap');
      cell(row, c.lastError ? `${c.state}: ${c.lastError}` : c.state, `state-${c.state}`);
      cell(row, c.notAfter > 0 ? `${new Date(c.notAfter).toLocaleDateString()} (${untilText(c.notAfter, s.now)})` : '–');
      cell(row, c.renewAt ? untilText(c.renewAt, s.now) : '–');
    });
    renderDdns(s);
    renderRelay(s);
    renderErrors(s);
  }

  function renderDdns(s: Status): void {
    const reach = byId('ddns-reach');
    const d = s.ddns;
    const reachability = d?.detection?.reachability ?? null;
    reach.textContent = !d ? 'DDNS is not configured.' : d.stopped ? `Updates stopped: ${d.stopped.message}` : reachability ? reachability.message : `${d.provider} (${d.target}): checking…`;
    reach.className = d && (d.stopped || reachability?.kind === 'cgnat') ? 'state-down' : 'muted';
    fillTable('ddns', d?.names ?? [], 5, 'no DDNS names', (row, n) => {
      cell(row, n.name, 'wrap');
      cell(row, n.records.A?.address ?? '–');
      cell(row, n.records.AAAA?.address ?? '–', 'wrap');
      cell(row, n.last ? `${n.last.status} (${n.last.code}): ${n.last.message}` : 'never sent', n.last && n.last.status !== 'updated' ? 'state-down wrap' : 'wrap');
      cell(row, n.last ? clock(n.last.at) : '–');
    });
  }

  function renderRelay(s: Status): void {
    const relay = s.relay;
    byId('relay').hidden = relay === null;
    if (relay === null) return;
    text('relay-summary', `ports ${relay.ports.join(', ')} · ${relay.names ? relay.names.join(', ') : 'every name'}`);
    fillTable('relay-table', [relay], 8, '', (row, r) => {
      cell(row, r.home);
      cell(row, `${r.homeUp ? 'up' : 'down'}${r.homeSince ? ` since ${clock(r.homeSince)}` : ''}`, r.homeUp ? 'state-healthy' : 'state-down');
      const handshake = r.lastHandshakeAt === null ? 'unknown' : r.lastHandshakeAt === 0 ? 'never' : `${duration(s.now - r.lastHandshakeAt)} ago`;
      cell(row, r.wireguardInterface ? `${handshake} (${r.wireguardInterface})` : handshake);
      cell(row, number(r.open));
      cell(row, number(r.relayed));
      const refused = Object.entries(r.refused).filter(([, n]) => n > 0).map(([why, n]) => `${why} ${n}`);
      cell(row, refused.length ? refused.join(', ') : '0', 'wrap');
      cell(row, megabytes(r.bytesIn));
      cell(row, megabytes(r.bytesOut));
    });
  }

  function renderErrors(s: Status): void {
    const list = byId('errors');
    const items = document.createDocumentFragment();
    for (const e of s.errors) {
      const li = document.createElement('li');
      const details = document.createElement('details');
      details.open = open.has(e.signature);
      details.addEventListener('toggle', () => (details.open ? open.add(e.signature) : open.delete(e.signature)));
      const summary = document.createElement('summary');
      const when = document.createElement('span');
      when.className = 'when';
      when.textContent = clock(e.lastSeen);
      const kind = document.createElement('span');
      kind.className = 'kind';
      kind.textContent = e.kind;
      const title = document.createElement('span');
      title.className = 'title';
      title.textContent = e.title;
      summary.append(when, kind, title);
      if (e.count > 1) {
        const count = document.createElement('span');
        count.className = 'count';
        count.textContent = `×${e.count} since ${clock(e.firstSeen)}`;
        summary.append(count);
      }
      const pre = document.createElement('pre');
      pre.textContent = e.detail;
      details.append(summary, pre);
      li.append(details);
      items.append(li);
    }
    if (s.errors.length === 0) {
      const li = document.createElement('li');
      li.className = 'muted';
      li.textContent = 'No errors since the master started.';
      items.append(li);
    }
    list.replaceChildren(items);
  }

  interface Series {
    className: string;
    value: (p: Point) => number | null;
    area: boolean;
  }

  function svg(name: string, attrs: Record<string, string | number>, content?: string): SVGElement {
    const el = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    if (content !== undefined) el.textContent = content;
    return el;
  }

  /** A line chart of the last 15 minutes: y from 0 to a round maximum, x from -15 min to now. */
  function chart(id: string, history: Status['history'], series: Series[]): void {
    const root = byId(id);
    const W = 640;
    const H = 180;
    const left = 44;
    const right = 8;
    const top = 8;
    const bottom = 22;
    const points = history.points;
    let max = 0;
    for (const p of points) for (const s of series) max = Math.max(max, s.value(p) ?? 0);
    const scale = niceMax(max);
    const x = (i: number) => left + ((W - left - right) * i) / Math.max(1, points.length - 1);
    const y = (v: number) => top + (H - top - bottom) * (1 - v / scale);
    const parts: SVGElement[] = [];
    for (let g = 0; g <= 4; g++) {
      const v = (scale * g) / 4;
      parts.push(svg('line', { class: 'grid', x1: left, x2: W - right, y1: y(v), y2: y(v) }));
      parts.push(svg('text', { class: 'axis', x: left - 6, y: y(v) + 4, 'text-anchor': 'end' }, formatTick(v)));
    }
    const minutes = [-15, -10, -5, 0];
    for (const m of minutes) {
      const i = ((m + 15) * 60000) / history.stepMs - (m === 0 ? 1 : 0);
      parts.push(svg('text', { class: 'axis', x: x(Math.max(0, i)), y: H - 6, 'text-anchor': m === -15 ? 'start' : m === 0 ? 'end' : 'middle' }, m === 0 ? 'now' : `${m} min`));
    }
    for (const s of series) {
      const coords: string[] = [];
      points.forEach((p, i) => {
        const v = s.value(p);
        if (v !== null) coords.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`);
      });
      if (coords.length === 0) continue;
      if (s.area) parts.push(svg('polygon', { class: 'area', points: `${x(0)},${y(0)} ${coords.join(' ')} ${x(points.length - 1)},${y(0)}` }));
      parts.push(svg('polyline', { class: s.className, points: coords.join(' ') }));
    }
    root.replaceChildren(...parts);
  }

  function niceMax(max: number): number {
    if (max <= 0) return 1;
    const power = 10 ** Math.floor(Math.log10(max));
    for (const step of [1, 2, 2.5, 5, 10]) if (max <= step * power) return step * power;
    return 10 * power;
  }

  function formatTick(v: number): string {
    if (v >= 1000) return `${number(v / 1000, v % 1000 === 0 ? 0 : 1)}k`;
    return v % 1 === 0 ? String(v) : v.toFixed(v < 1 ? 2 : 1);
  }

  let failures = 0;
  async function poll(): Promise<void> {
    try {
      const res = await fetch('api/status', { cache: 'no-store', credentials: 'same-origin' });
      if (res.status === 401) {
        location.reload();
        return;
      }
      if (!res.ok) throw new Error(`status ${res.status}`);
      render((await res.json()) as Status);
      failures = 0;
    } catch (error) {
      failures++;
      text('connection', `cannot reach Kirin (${(error as Error).message}); retrying`);
      const health = byId('health');
      if (failures > 2) {
        health.textContent = 'unreachable';
        health.className = 'badge bad';
      }
    } finally {
      setTimeout(() => void poll(), POLL_MS);
    }
  }

  void poll();
}
