// The production example's app: a fetch handler that signs a session cookie
// with SECRET_KEY from .env. It refuses to start without one, the way a
// production app should.
import { createHmac } from 'node:crypto';

const secret = process.env.SECRET_KEY;
if (!secret) throw new Error('SECRET_KEY is not set: put it in .env (npx kirin secret makes one)');

function sign(value: string): string {
  return `${value}.${createHmac('sha256', secret!).update(value).digest('base64url')}`;
}

export default {
  fetch(request: Request): Response {
    const url = new URL(request.url);
    if (url.pathname === '/') {
      const page = '<!doctype html><title>Hello</title><link rel="stylesheet" href="/static/style.css"><h1>Hello from Kirin</h1>\n';
      return new Response(page, {
        headers: {
          'content-type': 'text/html; charset=utf-8',
          'set-cookie': `session=${sign(crypto.randomUUID())}; Path=/; Secure; HttpOnly; SameSite=Lax`,
        },
      });
    }
    return new Response('Not found\n', { status: 404 });
  },
};
