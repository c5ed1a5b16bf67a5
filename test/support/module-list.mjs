// Preloaded (NODE_OPTIONS=--import) into every process and thread of a Kirin under test: writes what this
// thread has loaded (and the Node flags it runs with) — every module URL it resolved and Node's built-in module list (which names Node's
// TypeScript stripper, internal/deps/amaro) — to $KIRIN_TEST_MODULE_DIR/PID-THREAD.json, rewritten every
// 50 ms with a counter, so a test can wait for a list taken after a moment it saw (the worker being ready).
import { renameSync, writeFileSync } from 'node:fs';
import { registerHooks } from 'node:module';
import { threadId } from 'node:worker_threads';

const dir = process.env.KIRIN_TEST_MODULE_DIR;
if (dir) {
  const urls = new Set();
  registerHooks({
    resolve(specifier, context, next) {
      const resolved = next(specifier, context);
      urls.add(resolved.url);
      return resolved;
    },
  });
  let writes = 0;
  const write = () => {
    writes++;
    const builtins = process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length));
    // Written aside and renamed: a reader never sees half a list.
    const file = `${dir}/${process.pid}-${threadId}.json`;
    writeFileSync(`${file}.tmp`, JSON.stringify({ pid: process.pid, threadId, writes, argv: process.argv, execArgv: process.execArgv, urls: [...urls], builtins }));
    renameSync(`${file}.tmp`, file);
  };
  setInterval(write, 50).unref();
  write();
}
