// "Hello, world!" as a fetch handler in plain JavaScript: bench/memory.ts's .mjs row (no type stripping).
export default {
  fetch() {
    return new Response('Hello, world!');
  },
};
