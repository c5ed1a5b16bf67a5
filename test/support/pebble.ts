/**
 * Pebble, Let's Encrypt's test ACME server, for the HTTPS tests (the recipe of
 * issue 5): the Debian package ships no API certificate, so the test makes a
 * small CA and a `localhost` certificate with openssl; pebble-challtestsrv is
 * the DNS server that answers 127.0.0.1 for every name; Pebble validates on
 * the http and https ports Kirin listens on. The issuing root changes at every
 * Pebble start: read it from /roots/0 on the management port.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { freePort, waitFor } from './kirin.ts';

export interface Pebble {
  /** The ACME directory URL for Kirin's tls.acme. */
  directory: string;
  /** The CA of Pebble's own API certificate, for Kirin's tls.caBundle. */
  apiCaFile: string;
  /** The root that issues certificates now (changes when Pebble restarts). */
  root(): Promise<string>;
  /** Writes the current root to a file and returns its path. */
  rootFile(): Promise<string>;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Stops Pebble and the DNS server for good. */
  close(): Promise<void>;
}

export interface PebbleOptions {
  dir: string;
  /** Kirin's plain HTTP port (HTTP-01 is validated there). */
  httpPort: number;
  /** Kirin's https port (TLS-ALPN-01 is validated there). */
  tlsPort: number;
  /** Where the ACME API listens (default 127.0.0.1), e.g. an address a network namespace reaches; its certificate names it. */
  apiAddress?: string;
  /** The address every name resolves to for validation (default 127.0.0.1). */
  resolveTo?: string;
}

export async function startPebble(options: PebbleOptions): Promise<Pebble> {
  const { dir } = options;
  const apiCaFile = join(dir, 'pebble-api-ca.crt');
  const apiAddress = options.apiAddress ?? '127.0.0.1';
  makeApiCertificate(dir, apiAddress);
  const [acmePort, managementPort, dnsPort, dnsManagementPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const configFile = join(dir, 'pebble.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      pebble: {
        listenAddress: `${apiAddress}:${acmePort}`,
        managementListenAddress: `127.0.0.1:${managementPort}`,
        certificate: join(dir, 'pebble-api.crt'),
        privateKey: join(dir, 'pebble-api.key'),
        httpPort: options.httpPort,
        tlsPort: options.tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    }),
  );
  const dns = spawn(
    'pebble-challtestsrv',
    ['-dns01', `127.0.0.1:${dnsPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '', '-management', `127.0.0.1:${dnsManagementPort}`, '-defaultIPv4', options.resolveTo ?? '127.0.0.1', '-defaultIPv6', ''],
    { stdio: 'ignore' },
  );
  process.on('exit', () => dns.kill('SIGKILL'));
  const ca = readFileSync(apiCaFile);
  let pebble: ChildProcess | null = null;
  let log = '';
  const get = (port: number, path: string) => fetchText(`https://localhost:${port}${path}`, ca);

  const api: Pebble = {
    directory: apiAddress === '127.0.0.1' ? `https://localhost:${acmePort}/dir` : `https://${apiAddress}:${acmePort}/dir`,
    apiCaFile,
    root: () => get(managementPort, '/roots/0'),
    async rootFile() {
      const file = join(dir, `pebble-root-${Date.now()}.pem`);
      writeFileSync(file, await api.root());
      return file;
    },
    async start() {
      log = '';
      const child = spawn('pebble', ['-config', configFile, '-dnsserver', `127.0.0.1:${dnsPort}`], {
        env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      pebble = child;
      process.on('exit', () => child.kill('SIGKILL'));
      for (const stream of [child.stdout!, child.stderr!]) stream.on('data', (chunk: Buffer) => (log += chunk.toString()));
      await waitFor(() => fetchText(`${api.directory}`, ca).then((body) => body.includes('newOrder')), { timeoutMs: 10_000, what: `Pebble to serve its directory; its log:\n${log}` });
    },
    async stop() {
      const child = pebble;
      pebble = null;
      if (!child || child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
    async close() {
      await api.stop();
      dns.kill('SIGTERM');
    },
  };
  await api.start();
  return api;
}

/** A CA and a `localhost` certificate for Pebble's API (openssl is fine in tests; Kirin never runs it). */
function makeApiCertificate(dir: string, apiAddress: string): void {
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'pebble-api-ca.key', '-out', 'pebble-api-ca.crt', '-days', '30', '-subj', '/CN=Kirin test: Pebble API CA');
  run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'pebble-api.key', '-out', 'pebble-api.csr', '-subj', '/CN=localhost');
  writeFileSync(join(dir, 'pebble-api.ext'), `subjectAltName=DNS:localhost,IP:127.0.0.1${apiAddress === '127.0.0.1' ? '' : `,IP:${apiAddress}`}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
  run('x509', '-req', '-in', 'pebble-api.csr', '-CA', 'pebble-api-ca.crt', '-CAkey', 'pebble-api-ca.key', '-CAcreateserial', '-out', 'pebble-api.crt', '-days', '30', '-extfile', 'pebble-api.ext');
}

function fetchText(url: string, ca: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`${url}: ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: timed out`)));
    req.on('error', reject);
    req.end();
  });
}
