/** Says which worker answered (x-worker-pid), to measure how load spreads over workers. */
export default {
  fetch(): Response {
    return new Response('Hello, world!', { headers: { 'x-worker-pid': String(process.pid) } });
  },
};
