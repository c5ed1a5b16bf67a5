/**
 * Local stand-ins for what cannot run here: the HTTP APIs of dyndns2 services,
 * DuckDNS and Cloudflare, and public-address echo services. Each answers the
 * way its documentation says, on 127.0.0.1, records every request, and can be
 * told to misbehave (a status, an answer word, or no answer at all).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface SeenRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface StandIn {
  url: string;
  requests: SeenRequest[];
  close(): Promise<void>;
}

/** What the next requests get instead of the normal answer: a fixed reply, or silence (the client's timeout). */
export type Override = { status?: number; headers?: Record<string, string>; body: string } | 'hang';

async function serve(handle: (req: SeenRequest, res: ServerResponse) => void, host = '127.0.0.1'): Promise<StandIn & { server: Server }> {
  const requests: SeenRequest[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://stand-in');
      const seen = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body };
      requests.push(seen);
      handle(seen, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as { port: number }).port;
  return {
    server,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function reply(res: ServerResponse, override: Override): void {
  if (override === 'hang') return;
  res.writeHead(override.status ?? 200, { 'content-type': 'text/plain', ...override.headers }).end(override.body);
}

/** An echo service: answers the address it is set to (as text, like api.ipify.org), or an override. */
export async function startEcho(answer: string | Override, host = '127.0.0.1'): Promise<StandIn & { set(answer: string | Override): void }> {
  let current = answer;
  const standIn = await serve((_req, res) => reply(res, typeof current === 'string' && current !== 'hang' ? { body: `${current}\n` } : current), host);
  return { ...standIn, set: (next) => (current = next) };
}

/**
 * A dyndns2 service (No-IP's documentation): basic auth, one answer line per
 * host name, "good ADDR" on a change and "nochg ADDR" when the address is
 * already set; `badauth` for a wrong login, `badagent` without a User-Agent.
 */
export async function startDyndns2(login: { username: string; password: string }): Promise<StandIn & { records: Map<string, string>; override: Override[] }> {
  const records = new Map<string, string>();
  const override: Override[] = [];
  const standIn = await serve((req, res) => {
    const next = override.shift();
    if (next) return reply(res, next);
    const expected = `Basic ${Buffer.from(`${login.username}:${login.password}`).toString('base64')}`;
    if (req.path !== '/nic/update') return reply(res, { status: 404, body: 'not found' });
    if (req.headers.authorization !== expected) return reply(res, { body: 'badauth' });
    if (!req.headers['user-agent']) return reply(res, { body: 'badagent' });
    const myip = req.query.get('myip') ?? '';
    const lines = (req.query.get('hostname') ?? '').split(',').map((host) => {
      if (!host.includes('.')) return 'notfqdn';
      const word = records.get(host) === myip ? 'nochg' : 'good';
      records.set(host, myip);
      return `${word} ${myip}`;
    });
    reply(res, { body: lines.join('\n') });
  });
  return { ...standIn, records, override };
}

/** DuckDNS: `/update?domains=&token=&ip=&ipv6=&verbose=true` → "OK\nIP\nIPV6\nUPDATED|NOCHANGE" or "KO". */
export async function startDuckdns(token: string, domains: string[]): Promise<StandIn & { records: Map<string, string>; override: Override[] }> {
  const records = new Map<string, string>();
  const override: Override[] = [];
  const standIn = await serve((req, res) => {
    const next = override.shift();
    if (next) return reply(res, next);
    const asked = (req.query.get('domains') ?? '').split(',');
    if (req.path !== '/update' || req.query.get('token') !== token || !asked.every((d) => domains.includes(d))) return reply(res, { body: 'KO' });
    const value = `${req.query.get('ip') ?? ''}|${req.query.get('ipv6') ?? ''}`;
    const changed = asked.some((d) => records.get(d) !== value);
    for (const d of asked) records.set(d, value);
    const body = req.query.get('verbose') === 'true' ? `OK\n${req.query.get('ip') ?? ''}\n${req.query.get('ipv6') ?? ''}\n${changed ? 'UPDATED' : 'NOCHANGE'}` : 'OK';
    reply(res, { body });
  });
  return { ...standIn, records, override };
}

interface CfRecord {
  id: string;
  type: string;
  name: string;
  content: string;
  ttl: number;
  proxied: boolean;
}

/**
 * Cloudflare API v4: zones and DNS records behind a Bearer token, the v4
 * envelope on every answer, 403 with error 9109 for a token it does not know.
 */
export async function startCloudflare(token: string, zones: Record<string, string>): Promise<StandIn & { records: CfRecord[]; override: Override[] }> {
  const records: CfRecord[] = [];
  const override: Override[] = [];
  let nextId = 1;
  const json = (res: ServerResponse, status: number, result: unknown, errors: { code: number; message: string }[] = []) =>
    reply(res, { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ success: errors.length === 0, errors, messages: [], result }) });
  const standIn = await serve((req, res) => {
    const next = override.shift();
    if (next) return reply(res, next);
    if (req.headers.authorization !== `Bearer ${token}`) return json(res, 403, null, [{ code: 9109, message: 'Invalid access token' }]);
    if (req.method === 'GET' && req.path === '/client/v4/zones') {
      const name = req.query.get('name');
      return json(res, 200, Object.entries(zones).filter(([zone]) => zone === name).map(([zone, id]) => ({ id, name: zone, status: 'active' })));
    }
    const match = /^\/client\/v4\/zones\/([^/]+)\/dns_records(?:\/([^/]+))?$/.exec(req.path);
    if (!match || !Object.values(zones).includes(match[1]!)) return json(res, 404, null, [{ code: 7003, message: 'Could not route to /zones, perhaps your object identifier is invalid?' }]);
    if (req.method === 'GET') return json(res, 200, records.filter((r) => r.type === req.query.get('type') && r.name === req.query.get('name')));
    const body = JSON.parse(req.body || '{}') as Partial<CfRecord>;
    if (req.method === 'POST') {
      const record = { id: `rec${nextId++}`, type: body.type!, name: body.name!, content: body.content!, ttl: body.ttl ?? 1, proxied: body.proxied ?? false };
      records.push(record);
      return json(res, 200, record);
    }
    if (req.method === 'PATCH') {
      const record = records.find((r) => r.id === match[2]);
      if (!record) return json(res, 404, null, [{ code: 81044, message: 'Record does not exist.' }]);
      Object.assign(record, body);
      return json(res, 200, record);
    }
    json(res, 405, null, [{ code: 10000, message: 'method not allowed' }]);
  });
  return { ...standIn, records, override };
}
