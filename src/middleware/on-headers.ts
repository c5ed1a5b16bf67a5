/**
 * Run code just before a response's head is written, whoever writes it: the app
 * calling writeHead, Node calling it implicitly on the first write/end, a
 * proxied upstream's headers. Headers passed to writeHead are moved onto the
 * response first, so the hook sees (and may change or remove) all of them.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import type { NodeResponse } from '../worker/context.ts';

export type HeadersHook = (res: NodeResponse) => void;

const kHooks = Symbol('kirin.headerHooks');

type Hooked = NodeResponse & { [kHooks]?: HeadersHook[] };

export function onHeaders(res: NodeResponse, hook: HeadersHook): void {
  const hooked = res as Hooked;
  const hooks = hooked[kHooks];
  if (hooks) {
    hooks.push(hook);
    return;
  }
  hooked[kHooks] = [hook];
  const original = res.writeHead as (...args: unknown[]) => NodeResponse;
  (res as { writeHead: unknown }).writeHead = function writeHeadWithHooks(this: Hooked, status: number, ...rest: unknown[]) {
    let statusText: string | undefined;
    let headers: unknown;
    if (typeof rest[0] === 'string') {
      statusText = rest[0];
      headers = rest[1];
    } else headers = rest[0];
    if (headers !== undefined && headers !== null) moveOntoResponse(this, headers);
    this.statusCode = status;
    const all = this[kHooks]!;
    this[kHooks] = undefined;
    (this as { writeHead: unknown }).writeHead = original;
    for (const h of all) h(this);
    return statusText === undefined ? original.call(this, this.statusCode) : original.call(this, this.statusCode, statusText);
  };
}

export function moveOntoResponse(res: NodeResponse, headers: unknown): void {
  if (Array.isArray(headers)) {
    // Flat [name, value, name, value] or [[name, value], …]; repeated names (set-cookie) become lists.
    const grouped = new Map<string, string[]>();
    const add = (name: string, value: unknown) => {
      const key = name.toLowerCase();
      const list = grouped.get(key) ?? [];
      list.push(String(value));
      grouped.set(key, list);
    };
    if (headers.length > 0 && Array.isArray(headers[0])) for (const [n, v] of headers as [string, unknown][]) add(n, v);
    else for (let i = 0; i < headers.length; i += 2) add(String(headers[i]), headers[i + 1]);
    for (const [name, values] of grouped) res.setHeader(name, values.length === 1 ? values[0]! : values);
    return;
  }
  for (const [name, value] of Object.entries(headers as OutgoingHttpHeaders)) {
    if (value !== undefined) res.setHeader(name, value as string | string[] | number);
  }
}
