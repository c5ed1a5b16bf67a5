/** @hono/node-server serving the plain hello fetch handler. HOST and PORT from the environment. */
import { serve } from '@hono/node-server';
import hello from './hello-fetch.ts';

serve({ fetch: hello.fetch, port: Number(process.env.PORT ?? 8000), hostname: process.env.HOST ?? '127.0.0.1' });
