/**
 * `kirin trust` — makes this machine trust Kirin's local CA, so https://app.localhost
 * opens without a warning. Creates the CA if it does not exist yet.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { findConfigFile, loadConfigFile } from '../config/load.ts';
import { isPlainObject } from '../config/issues.ts';
import { ExitCode, KirinError } from '../errors.ts';
import { LocalCa } from '../tls/local-ca.ts';
import { parseCommandLine } from './args.ts';
import { parseControlArgs } from './control-args.ts';

const USAGE = `Usage: kirin trust [--print] [--state-dir DIR] [--config FILE]

Installs the root certificate of Kirin's local CA (the one that signs the
certificates of localhost, *.localhost, *.local, *.internal and *.test sites)
into the system's trust store, and prints how to trust it in browsers that
keep their own (Firefox, Chrome on Linux). Creates the CA on first use.

  --print   only print the root certificate's path
`;

const DEBIAN_STORE = '/usr/local/share/ca-certificates';

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandLine(
    argv,
    { print: { type: 'boolean' }, 'state-dir': { type: 'string' }, config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
    USAGE,
    0,
  );
  if (values.help) {
    process.stdout.write(USAGE);
    return ExitCode.OK;
  }
  const storage = await tlsStorage(values['state-dir'], values.config);
  const ca = new LocalCa(storage);
  await ca.ensure();
  const root = ca.rootPath;
  if (values.print) {
    process.stdout.write(`${root}\n`);
    return ExitCode.OK;
  }
  const fingerprint = new X509Certificate(readFileSync(root)).fingerprint256.replace(/:/g, '').slice(0, 12).toLowerCase();
  const target = join(DEBIAN_STORE, `kirin-local-root-${fingerprint}.crt`);
  let installed = false;
  if (existsSync(DEBIAN_STORE) && process.getuid?.() === 0) {
    copyFileSync(root, target);
    execFileSync('update-ca-certificates', [], { stdio: 'inherit' });
    installed = true;
    process.stdout.write(`installed ${root} as ${target}: curl, wget, Python and other programs that use the system store trust it now\n`);
  } else if (existsSync(DEBIAN_STORE)) {
    process.stdout.write(`To trust the local CA system-wide, run as root:\n  sudo cp ${root} ${target} && sudo update-ca-certificates\n`);
  } else {
    process.stdout.write(
      `This system has no ${DEBIAN_STORE}; add ${root} to its trust store by hand:\n` +
        `  Fedora/RHEL: sudo cp ${root} /etc/pki/ca-trust/source/anchors/ && sudo update-ca-trust\n` +
        `  macOS:       sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain ${root}\n` +
        `  Windows:     certutil -addstore -f ROOT ${root}\n`,
    );
  }
  process.stdout.write(
    `\nBrowsers that keep their own list:\n` +
      `  Firefox:          Settings → Privacy & Security → Certificates → View Certificates → Authorities → Import… ${root}\n` +
      `                    (or set security.enterprise_roots.enabled to true in about:config to use the system store)\n` +
      `  Chrome (Linux):   certutil -d sql:$HOME/.pki/nssdb -A -t "C,," -n "Kirin local CA" -i ${root}   (package libnss3-tools)\n` +
      `  Node.js clients:  NODE_EXTRA_CA_CERTS=${root}\n`,
  );
  return installed || values.print ? ExitCode.OK : ExitCode.FAILURE;
}

/** The TLS storage folder of the project here: the config's tls.storage, else <stateDir>/tls. */
async function tlsStorage(stateDir: string | undefined, config: string | undefined): Promise<string> {
  const cwd = process.cwd();
  const configFile = config ? resolve(cwd, config) : findConfigFile(cwd);
  if (configFile && !stateDir) {
    const raw = await loadConfigFile(configFile);
    if (isPlainObject(raw) && isPlainObject(raw.tls) && typeof raw.tls.storage === 'string') return resolve(dirname(configFile), raw.tls.storage);
  }
  const flags = [...(stateDir ? ['--state-dir', stateDir] : []), ...(config ? ['--config', config] : [])];
  return join((await parseControlArgs(flags, USAGE, { installed: false })).args.stateDir, 'tls');
}
