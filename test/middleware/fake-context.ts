/**
 * A RequestContext stand-in for middleware unit tests: the client address,
 * method and headers a middleware reads, and a response that records what a
 * refusal (sendError) writes.
 */
import type { Middleware, RequestContext } from '../../src/worker/context.ts';

export interface RecordedResponse {
  headersSent: boolean;
  shouldKeepAlive: boolean;
  status: number;
  headers: Record<string, string | number>;
  body: string;
  writeHead(status: number, headers?: Record<string, string | number>): RecordedResponse;
  end(body?: string): RecordedResponse;
}

export function fakeContext(options: { clientIp?: string; method?: string; headers?: Record<string, string> } = {}): RequestContext & { res: RecordedResponse } {
  const res: RecordedResponse = {
    headersSent: false,
    shouldKeepAlive: true,
    status: 0,
    headers: {},
    body: '',
    writeHead(status, headers = {}) {
      this.status = status;
      this.headers = headers;
      this.headersSent = true;
      return this;
    },
    end(body = '') {
      this.body = body;
      return this;
    },
  };
  const ctx = {
    clientIp: options.clientIp ?? '127.0.0.1',
    method: options.method ?? 'GET',
    req: { headers: { ...options.headers } },
    res,
  };
  return ctx as unknown as RequestContext & { res: RecordedResponse };
}

/** Runs one middleware; `passed` tells whether it called next, `status` what it answered otherwise. */
export async function runMiddleware(middleware: Middleware, ctx: RequestContext & { res: RecordedResponse }): Promise<{ passed: boolean; status: number; headers: Record<string, string | number> }> {
  let passed = false;
  await middleware(ctx, () => {
    passed = true;
  });
  return { passed, status: ctx.res.status, headers: ctx.res.headers };
}
