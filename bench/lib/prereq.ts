/** Fail early, with the fix, when a bench cannot run here. */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { KIRIN_BIN } from './paths.ts';

export function hasCommand(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function requireCommands(names: string[]): void {
  const missing = names.filter((name) => !hasCommand(name));
  if (missing.length > 0) throw new Error(`missing ${missing.join(', ')}: install the Debian packages (see .ci/run)`);
}

export function requireBuild(): void {
  if (!existsSync(KIRIN_BIN)) throw new Error(`${KIRIN_BIN} is missing: run \`npm run build\` (or \`npm run bench\`, which builds first)`);
}

/** Every bench: the built Kirin and these commands. */
export function prereqs(commands: string[]): void {
  requireBuild();
  requireCommands(commands);
}
