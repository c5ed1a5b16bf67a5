/**
 * The HTTPS setup the TLS measurements share (bench/tls.ts,
 * bench/experiments/instructions.ts): one ECDSA P-256 certificate for
 * `localhost` from Kirin's local CA, and a Kirin config that serves an app
 * with it on one https listener — so every server is judged with the same
 * key and the same handshake.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalCa } from '../../src/tls/local-ca.ts';

/** The name the certificate is for; clients send it as SNI and Host. */
export const TLS_NAME = 'localhost';

/** A leaf for `localhost` from Kirin's local CA (ECDSA P-256), as cert.pem and key.pem in `dir`. */
export async function makeCertificate(dir: string): Promise<{ cert: string; key: string }> {
  const leaf = await new LocalCa(join(dir, 'ca')).issue([TLS_NAME]);
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  writeFileSync(cert, leaf.certPem, { mode: 0o644 });
  writeFileSync(key, leaf.keyPem, { mode: 0o644 });
  return { cert, key };
}

/**
 * Writes dir/kirin.json: one worker, no admin, no access log, `appPath` at `/`
 * of the `localhost` site on one https listener with the certificate. Returns
 * the config's path.
 */
export function writeKirinTlsConfig(dir: string, port: number, cert: string, key: string, appPath: string): string {
  const config = join(dir, 'kirin.json');
  writeFileSync(
    config,
    JSON.stringify({
      workers: 1,
      admin: false,
      accessLog: false,
      stateDir: join(dir, 'kirin-state'),
      listen: { https: [`127.0.0.1:${port}`] },
      sites: { [TLS_NAME]: { tls: { cert, key }, '/': { app: appPath } } },
    }),
  );
  return config;
}
