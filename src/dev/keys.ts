/**
 * Keys on a terminal: r restart, o open the browser, q quit (Ctrl-C too: raw
 * mode turns it into a key). Nothing on a non-TTY (CI, a pipe, a service).
 */
import { spawn } from 'node:child_process';

export interface KeyActions {
  restart(): void;
  open(): void;
  quit(): void;
}

export const KEYS_HINT = 'keys: r restart · o open in the browser · q quit';

/** Listens when stdin is a terminal; returns what stops listening (false when there is no terminal). */
export function listenForKeys(actions: KeyActions): (() => void) | null {
  const stdin = process.stdin;
  if (!stdin.isTTY) return null;
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  const onData = (text: string) => {
    for (const key of text) {
      if (key === 'r' || key === 'R') actions.restart();
      else if (key === 'o' || key === 'O') actions.open();
      else if (key === 'q' || key === 'Q' || key === '\x03' || key === '\x04') actions.quit();
    }
  };
  stdin.on('data', onData);
  stdin.resume();
  return () => {
    stdin.off('data', onData);
    stdin.setRawMode(false);
    stdin.pause();
  };
}

/** Opens `url` in the desktop's browser; `onFail` hears why not (no desktop on a server). */
export function openBrowser(url: string, onFail: (reason: string) => void): void {
  const command = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  const child = spawn(command, [url], { stdio: 'ignore', detached: true });
  child.on('error', (error) => onFail(`${command}: ${error.message}`));
  child.on('exit', (code) => {
    if (code !== 0 && code !== null) onFail(`${command} exited with code ${code}`);
  });
  child.unref();
}
