/**
 * The shape of the source tree, checked on every test run:
 *
 * - no import cycle between modules of src/ (type-only imports count, as madge
 *   counts them: a contract two modules share belongs in a leaf module both
 *   import, not in one of them);
 * - no export that nothing imports or uses (dead code that reads as API).
 *
 * Imports are read from the source text: static `import … from` and
 * `export … from` with a relative specifier. Dynamic `import()` loads lazily
 * and creates no load-order cycle, so it is left out.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from './support/kirin.ts';

/** Exports kept on purpose though nothing imports them, each with its reason. */
const INTENTIONAL_EXPORTS = new Map([['src/ddns/plan.ts:ProviderKind', 'a compile-time check that every provider name has a plan']]);

function sourceFiles(folder: string): string[] {
  return readdirSync(join(ROOT, folder), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && /\.(ts|js|mjs)$/.test(entry.name) && !entry.parentPath.includes('node_modules'))
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)));
}

const IMPORT = /^(?:import|export)\s+(?:type\s+)?[^;]*?\s+from\s+['"](\.{1,2}\/[^'"]+)['"]/gms;

function importGraph(files: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    graph.set(file, [...text.matchAll(IMPORT)].map((match) => normalize(join(dirname(file), match[1]!))));
  }
  return graph;
}

/** Strongly connected components of more than one module (Tarjan). */
function cycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (module: string) => {
    index.set(module, next);
    low.set(module, next);
    next++;
    stack.push(module);
    onStack.add(module);
    for (const dependency of graph.get(module) ?? []) {
      if (!graph.has(dependency)) continue;
      if (!index.has(dependency)) {
        visit(dependency);
        low.set(module, Math.min(low.get(module)!, low.get(dependency)!));
      } else if (onStack.has(dependency)) low.set(module, Math.min(low.get(module)!, index.get(dependency)!));
    }
    if (low.get(module) === index.get(module)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== module);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const module of graph.keys()) if (!index.has(module)) visit(module);
  return found;
}

describe('source tree structure', () => {
  const src = sourceFiles('src');

  it('has no import cycle in src/', () => {
    const found = cycles(importGraph(src));
    assert.deepEqual(found, [], `modules that import each other, directly or around a loop:\n${found.map((c) => `  ${c.join(' ⇄ ')}`).join('\n')}\nMove what they share into a leaf module.`);
  });

  it('exports nothing that no module, test or bench uses', () => {
    const everything = [...src, ...sourceFiles('test'), ...sourceFiles('bench'), ...sourceFiles('examples'), ...sourceFiles('scripts')];
    const texts = new Map(everything.map((file) => [file, readFileSync(join(ROOT, file), 'utf8')]));
    const unused: string[] = [];
    for (const file of src) {
      const text = texts.get(file)!;
      for (const [, name] of text.matchAll(/^export (?:declare )?(?:async )?(?:function\*?|abstract class|class|const|let|interface|type|enum) (\w+)/gm)) {
        const word = new RegExp(`\\b${name}\\b`);
        // Used in its own module past the declaration, or named anywhere else.
        const used = (text.match(new RegExp(word, 'g'))?.length ?? 0) > 1 || everything.some((other) => other !== file && word.test(texts.get(other)!));
        if (!used && !INTENTIONAL_EXPORTS.has(`${file}:${name}`)) unused.push(`${file}: ${name}`);
      }
    }
    assert.deepEqual(unused, [], `exports nothing uses (remove them, or list them in INTENTIONAL_EXPORTS with the reason):\n  ${unused.join('\n  ')}`);
  });
});
