// One of the two API servers behind api.example.test: `node api-upstream.ts 9001` and `… 9002`.
// Kirin spreads requests over both (round_robin) and asks each for /healthz.
import { createServer } from 'node:http';

const port = Number(process.argv[2] ?? process.env.PORT ?? 9001);

createServer((req, res) => {
  if (req.url === '/healthz') {
    res.end('ok\n');
    return;
  }
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ api: port, path: req.url, client: req.headers['x-forwarded-for'] }));
}).listen(port, '127.0.0.1', () => console.log(`api upstream on http://127.0.0.1:${port}`));
