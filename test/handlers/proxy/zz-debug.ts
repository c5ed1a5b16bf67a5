import { pino } from 'pino';
import { normalizeConfig } from '../../../src/config/normalize.ts';
import { ClientResolver } from '../../../src/worker/client.ts';
import { compilePlan } from '../../../src/worker/compile.ts';
import { Pipeline } from '../../../src/worker/pipeline.ts';
import { createHttpServer } from '../../../src/worker/servers.ts';
import net from 'node:net';
const plan = normalizeConfig({ raw: { stateDir: '/tmp/x', sites: { 'a.test': { '/': { respond: 'hi' } } } }, file: null, cwd: process.cwd(), env: {} });
const logger = pino({ level: 'debug' });
const compiled = await compilePlan(plan, logger, () => Promise.reject(new Error('x')), () => {});
const pipeline = new Pipeline({ sites: compiled.sites, resolver: new ClientResolver([]), trustsProxies: false, limits: plan.limits, logger, accessLog: null, observer: null });
const inner = pipeline.onRequest;
const server = createHttpServer({ onRequest: (req: any, res: any) => { console.log('in'); try { inner(req, res); } catch (e) { console.log('threw', e); } console.log('out', res.headersSent); }, onUpgrade() {} } as any, plan.limits, logger);
server.listen(0, '127.0.0.1', () => {
  const s = net.connect((server.address() as any).port, '127.0.0.1', () => s.write('GET /x HTTP/1.1\r\nHost: a.test\r\n\r\n'));
  s.on('data', d => { console.log(String(d)); process.exit(0); });
  setTimeout(() => { console.log('timeout'); process.exit(1); }, 2000);
});
