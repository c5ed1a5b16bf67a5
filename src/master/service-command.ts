/**
 * A service's command line → the program and its arguments.
 *
 * Kirin splits the command into words the way a shell would read quotes and
 * backslashes, but runs no shell: no pipes, redirects, `&&` or $VARIABLES, and
 * nothing in `{socket}`/`{port}` (or anywhere else) is ever re-read as shell
 * syntax. The program is the service's own process — its pid is the one
 * reported, signals reach it directly, and a missing program is an error that
 * names it. A config that needs a shell says so: `sh -c 'cd app && exec …'`.
 */

export interface Placeholders {
  socket: string | null;
  port: number;
}

/** Splits a command line into words: 'single', "double" (with \" \\ \$ \` escapes), and \-escapes outside quotes. */
export function splitCommand(command: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: "'" | '"' | null = null;
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    if (quote === "'") {
      if (c === "'") quote = null;
      else word += c;
      continue;
    }
    if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === '\\' && i + 1 < command.length && '"\\$`'.includes(command[i + 1]!)) word += command[++i];
      else word += c;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\n') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      continue;
    }
    inWord = true;
    if (c === "'" || c === '"') quote = c;
    else if (c === '\\' && i + 1 < command.length) word += command[++i];
    else word += c;
  }
  if (quote !== null) throw new Error(`unclosed ${quote === "'" ? 'single' : 'double'} quote in the command`);
  if (inWord) words.push(word);
  return words;
}

/** Replaces `{socket}` and `{port}` in one word or value. */
export function fillPlaceholders(text: string, values: Placeholders): string {
  if (!text.includes('{')) return text;
  return text.replaceAll('{socket}', values.socket ?? '{socket}').replaceAll('{port}', values.port > 0 ? String(values.port) : '{port}');
}

/** The program and arguments to run, with placeholders filled. */
export function commandArgv(command: string, values: Placeholders): { file: string; args: string[] } {
  const words = splitCommand(command).map((w) => fillPlaceholders(w, values));
  if (words.length === 0) throw new Error('the command is empty');
  return { file: words[0]!, args: words.slice(1) };
}
