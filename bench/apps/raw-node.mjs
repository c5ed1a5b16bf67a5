// The bare node:http hello world in plain JavaScript: bench/memory.ts's baseline and PM2's script there
// (the .ts twin would add Node's type stripper, which no production JavaScript server loads).
import { createServer } from 'node:http';

createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain;charset=UTF-8', 'content-length': 13 });
  res.end('Hello, world!');
}).listen(Number(process.env.PORT ?? 8000), process.env.HOST ?? '127.0.0.1');
process.once('SIGTERM', () => process.exit(0));
