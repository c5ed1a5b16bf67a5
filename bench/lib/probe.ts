/**
 * One GET, to check what a server answers before racing it: a bench compares
 * servers only when they send the same thing.
 */
import { get } from 'node:http';

export interface Probe {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  bodyBytes: number;
  body: Buffer;
}

export function probe(url: string): Promise<Probe> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent: false, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.once('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, bodyBytes: body.length, body });
      });
      res.once('error', reject);
    });
    req.once('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.once('error', reject);
  });
}

/** "200 text/plain;charset=UTF-8 13 B" — what matters for a fair comparison. */
export function describeProbe(p: Probe): string {
  return `${p.status} ${p.headers['content-type'] ?? '(no content-type)'} ${p.bodyBytes} B${p.headers['content-length'] === undefined ? ' (chunked)' : ''}`;
}
