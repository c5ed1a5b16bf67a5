/**
 * An ssh ProxyCommand that drops the connection once: it relays stdin/stdout
 * to host:port and, after `limit` bytes went out and the marker file does not
 * exist yet, creates the marker and closes everything — what a connection
 * lost mid-upload looks like to ssh and rsync. Later connections pass.
 *
 *   ProxyCommand node drop-proxy.ts %h %p MARKER LIMIT
 */
import { existsSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';

const [host, port, marker, limit] = process.argv.slice(2) as [string, string, string, string];
const armed = !existsSync(marker);
const socket = connect(Number(port), host);
let sent = 0;
process.stdin.on('data', (chunk: Buffer) => {
  sent += chunk.length;
  if (armed && sent > Number(limit)) {
    writeFileSync(marker, `dropped after ${sent} bytes\n`);
    socket.destroy();
    process.exit(0);
  }
  socket.write(chunk);
});
process.stdin.on('end', () => socket.end());
socket.on('data', (chunk) => process.stdout.write(chunk));
socket.on('close', () => process.exit(0));
socket.on('error', () => process.exit(1));
