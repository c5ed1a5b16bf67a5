/**
 * Reading stacks for the error page: a syntax error's position from the header
 * Node puts on it, the first frame of the project's own code otherwise, and the
 * code frame around it.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { codeFrame, codeFrameText, errorLocation, moduleNotFoundLocation, parseStack, stackWithoutHeader, syntaxErrorLocation } from '../../src/dev/stack.ts';
import { tempDir, writeFiles } from '../support/kirin.ts';

describe('dev stack reading', () => {
  it('takes a syntax error\'s file, line and the caret\'s column from the header, not from the loader\'s frames', async () => {
    const dir = tempDir('kirin-stack-');
    writeFiles(dir, { 'bad.ts': 'const a: number = 1;\nexport default {\n  fetch() { return new Response("x" +) }\n};\n' });
    const error = await import(pathToFileURL(join(dir, 'bad.ts')).href).then(
      () => null,
      (e: unknown) => e as Error,
    );
    assert.ok(error instanceof SyntaxError);
    assert.deepEqual(syntaxErrorLocation(error.stack!), { file: join(dir, 'bad.ts'), line: 3, column: 38 });
    assert.deepEqual(errorLocation(error), { file: join(dir, 'bad.ts'), line: 3, column: 38 });
    assert.match(stackWithoutHeader(error.stack!), /^SyntaxError/);
  });

  it("points at the importing file's line for an import that does not resolve: a missing file or a missing package", async () => {
    const dir = tempDir('kirin-stack-');
    writeFiles(dir, {
      'app.ts': "import { a } from './lib.ts';\nexport default a;\n",
      'lib.ts': "export const x = 1;\n\nimport {\n  b,\n} from './gone.ts';\nexport const a = b;\n",
      'pkg.ts': "// a package that is not installed\nexport { z } from  \"no-such-package/sub\";\n",
    });
    const failure = (file: string) => import(pathToFileURL(join(dir, file)).href).then(() => assert.fail('imported'), (e: unknown) => e as Error);
    const missingFile = await failure('app.ts');
    assert.deepEqual(errorLocation(missingFile), { file: join(dir, 'lib.ts'), line: 5, column: 8 });
    assert.match(codeFrameText(codeFrame(errorLocation(missingFile)!)!), /> 5 \| \} from '\.\/gone\.ts';/);
    const missingPackage = await failure('pkg.ts');
    assert.deepEqual(errorLocation(missingPackage), { file: join(dir, 'pkg.ts'), line: 2, column: 20 });
    assert.equal(moduleNotFoundLocation(new Error("Cannot find module '/x' imported from /y")), null, 'only the loader\'s own error (its code) counts');
  });

  it('skips frames of Node, dependencies and Kirin for the place to show', () => {
    const stack = [
      'Error: boom',
      '    at node:internal/process/task_queues:95:5',
      '    at handler (/srv/app/node_modules/hono/dist/hono-base.js:10:3)',
      '    at file:///work/x/dist/worker/pipeline.js:1:1',
      '    at Object.fetch (file:///srv/app/src/routes.ts:12:9)',
      '    at /srv/app/app.ts:3:1',
    ].join('\n');
    const frames = parseStack(stack);
    assert.deepEqual(
      frames.map((f) => [f.fn, f.file, f.line, f.column, f.own]),
      [
        ['', 'node:internal/process/task_queues', 95, 5, false],
        ['handler', '/srv/app/node_modules/hono/dist/hono-base.js', 10, 3, false],
        ['', '/work/x/dist/worker/pipeline.js', 1, 1, true],
        ['Object.fetch', '/srv/app/src/routes.ts', 12, 9, true],
        ['', '/srv/app/app.ts', 3, 1, true],
      ],
    );
  });

  it('marks Kirin\'s own files as not the user\'s', () => {
    const kirinFile = new URL('../../src/worker/pipeline.ts', import.meta.url).pathname;
    const [frame] = parseStack(`Error: x\n    at run (${kirinFile}:5:2)`);
    assert.equal(frame!.own, false);
  });

  it('frames the failing line with its neighbours and a caret under the column', () => {
    const dir = tempDir('kirin-frame-');
    writeFiles(dir, { 'a.ts': 'one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\n' });
    const frame = codeFrame({ file: join(dir, 'a.ts'), line: 5, column: 3 })!;
    assert.deepEqual(frame.lines.map((l) => [l.number, l.text, l.focus]), [
      [2, 'two', false],
      [3, 'three', false],
      [4, 'four', false],
      [5, 'five', true],
      [6, 'six', false],
      [7, 'seven', false],
      [8, 'eight', false],
    ]);
    assert.match(codeFrameText(frame), /> 5 \| five\n {4}\| {3}\^/);
    assert.equal(codeFrame({ file: join(dir, 'missing.ts'), line: 1, column: 1 }), null);
    assert.equal(codeFrame({ file: join(dir, 'a.ts'), line: 99, column: 1 }), null);
  });
});
