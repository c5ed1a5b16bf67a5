// The blog: a fetch handler Kirin runs in its workers.
export default {
  fetch(request: Request): Response {
    const url = new URL(request.url);
    if (url.pathname.startsWith('/admin/')) {
      // Only addresses on the route's allow-list get here; Kirin answered 403 to the others.
      return new Response(`blog admin, hello ${request.headers.get('x-forwarded-for')}\n`, { headers: { 'content-type': 'text/plain; charset=utf-8' } });
    }
    const page = `<!doctype html><title>Blog</title><link rel="stylesheet" href="/static/blog.3f2a1c9b.css"><h1>Blog</h1><p>${url.hostname}${url.pathname}</p>\n`;
    return new Response(page, { headers: { 'content-type': 'text/html; charset=utf-8' } });
  },
};
