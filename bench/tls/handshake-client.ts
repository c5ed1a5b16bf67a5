/**
 * TLS handshakes per second, one HTTP/1.1 request per connection, either
 * always resuming the session (tickets) or never (full handshakes): wrk
 * resumes on some reconnects and not others, so it cannot tell the two apart.
 * Run pinned to the load CPU by bench/tls.ts; prints one JSON line.
 *
 *   node bench/tls/handshake-client.ts PORT SERVERNAME full|resume CONCURRENCY SECONDS WARMUP_SECONDS
 */
import { connect } from 'node:tls';

const [port, servername, mode, concurrency, seconds, warmup] = process.argv.slice(2);
const resume = mode === 'resume';
const REQUEST = `GET / HTTP/1.1\r\nHost: ${servername}\r\nConnection: close\r\n\r\n`;

function once(session: Buffer | undefined): Promise<{ ok: boolean; reused: boolean; session: Buffer | undefined }> {
  return new Promise((resolve) => {
    let latest = session;
    let reused = false;
    let head = '';
    const socket = connect({ host: '127.0.0.1', port: Number(port), servername, rejectUnauthorized: false, session: resume ? session : undefined, ALPNProtocols: ['http/1.1'] });
    socket.on('session', (s: Buffer) => (latest = s));
    socket.on('secureConnect', () => {
      reused = socket.isSessionReused();
      socket.write(REQUEST);
    });
    socket.on('data', (chunk: Buffer) => {
      if (head.length < 12) head += chunk.toString('latin1');
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve({ ok: head.startsWith('HTTP/1.1 200'), reused, session: latest }));
  });
}

let connections = 0;
let reusedCount = 0;
let failures = 0;
let measuring = false;
const start = Date.now();
const measureFrom = start + Number(warmup) * 1000;
const end = measureFrom + Number(seconds) * 1000;

async function loop(): Promise<void> {
  let session: Buffer | undefined;
  while (Date.now() < end) {
    const result = await once(session);
    session = result.session;
    if (!measuring) continue;
    connections++;
    if (result.reused) reusedCount++;
    if (!result.ok) failures++;
  }
}

setTimeout(() => (measuring = true), measureFrom - Date.now());
await Promise.all(Array.from({ length: Number(concurrency) }, loop));
process.stdout.write(`${JSON.stringify({ perSec: connections / Number(seconds), connections, reused: connections ? reusedCount / connections : 0, failures })}\n`);
