/** "Hello, world!" as a fetch handler: Kirin's fetch path, and @hono/node-server's. */
export const BODY = 'Hello, world!';

export default {
  fetch(): Response {
    return new Response(BODY);
  },
};
