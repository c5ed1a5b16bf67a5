/**
 * The site the static-file end-to-end tests serve: a root with text, binary,
 * precompressed, hidden and linked files, a sibling `root-secret/` that must
 * stay unreachable, hashed assets and a single-page app, behind one Kirin
 * with one worker.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { startKirin, tempDir, writeFiles, type KirinProcess } from '../support/kirin.ts';

export const SECRET = 'TOP-SECRET-VALUE';
export const HELLO = `${'Hello, static world! '.repeat(48)}\n`;
export const HUGE_BYTES = 64 * 1024 * 1024;
export const CSS = `body { color: #333; }\n${'.rule { margin: 0; padding: 0; }\n'.repeat(60)}`;

export interface StaticSite {
  kirin: KirinProcess;
  dir: string;
  root: string;
  /** The 5 MiB file's bytes. */
  big: Buffer;
  /** The worker's process id (one worker). */
  workerPid(): number;
}

export async function startStaticSite(): Promise<StaticSite> {
  const dir = tempDir('kirin-static-');
  const big = randomBytes(5 * 1024 * 1024);
  writeFiles(dir, {
    'kirin.config.json': JSON.stringify({
      admin: false,
      sites: {
        '*': {
          '/': { static: './root' },
          '/assets/': { static: './assets', immutable: true },
          '/app/': { static: './spa', spa: true },
        },
      },
    }),
    'root/index.html': '<h1>home</h1>\n',
    'root/hello.txt': HELLO,
    'root/style.css': CSS,
    'root/style.css.br': brotliCompressSync(CSS),
    'root/style.css.gz': gzipSync(CSS),
    'root/data.json': '{"ok":true}\n',
    'root/logo.png': Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'),
    'root/docs/index.html': '<h1>docs</h1>\n',
    'root/noindex/file.txt': 'no listing for my folder\n',
    'root/evil.com/index.html': 'a folder named like a host\n',
    'root/mutable.txt': 'version one\n',
    'root/big.bin': big,
    'root/.env': `SECRET=${SECRET}\n`,
    'root/.git/config': `[core]\n# ${SECRET}\n`,
    'root/.well-known/security.txt': 'Contact: mailto:security@example.test\n',
    'root-secret/secret.txt': `${SECRET}\n`,
    'assets/app.3f9a2c1b.js': 'console.log("hashed");\n',
    'assets/app.js': 'console.log("plain");\n',
    'spa/index.html': '<div id="spa"></div>\n',
    'spa/assets/real.js': 'console.log("spa");\n',
  });
  const root = join(dir, 'root');
  symlinkSync(join(dir, 'root-secret', 'secret.txt'), join(root, 'escape.txt'));
  symlinkSync(join(dir, 'root-secret'), join(root, 'escape-dir'));
  // 64 MiB of zeros without using the disk (sparse): far more than loopback socket buffers hold.
  writeFileSync(join(root, 'huge.bin'), '');
  truncateSync(join(root, 'huge.bin'), HUGE_BYTES);
  const kirin = await startKirin({
    cwd: dir,
    args: ['serve', '--workers', '1', '--bind', '127.0.0.1:0', '--state-dir', join(dir, 'state'), '--access-log', 'off'],
  });
  return {
    kirin,
    dir,
    root,
    big,
    workerPid() {
      // The master's other child is its process-group guard (a /bin/sh): a worker runs dist/worker/main.js.
      const children = readFileSync(`/proc/${kirin.pid}/task/${kirin.pid}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .filter((pid) => pid !== '' && commandLine(pid).includes('worker/main.js'));
      if (children.length !== 1) throw new Error(`expected one worker, found ${children.length}`);
      return Number(children[0]);
    },
  };
}

/** A process's command line, or '' once it is gone. */
function commandLine(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}
