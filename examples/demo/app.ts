// The demo app: a web-standard fetch handler, TypeScript run as is.
const started = new Date();

export default {
  fetch(request: Request & { ip?: string }): Response {
    const url = new URL(request.url);
    if (url.pathname === '/api/hello') {
      return Response.json({ hello: url.searchParams.get('name') ?? 'world', worker: process.pid, client: request.ip });
    }
    if (url.pathname !== '/') return new Response('Not found\n', { status: 404 });
    return new Response(page(request.ip ?? 'unknown'), { headers: { 'content-type': 'text/html; charset=utf-8' } });
  },
};

function page(client: string): string {
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Kirin demo</title>
  <link rel="stylesheet" href="/static/style.css">
</head>
<body>
  <main>
    <h1>It works.</h1>
    <p>This page comes from <code>examples/demo/app.ts</code>, a fetch handler served by Kirin worker <strong>${process.pid}</strong> (started ${started.toISOString()}).</p>
    <p>You are <code>${client}</code>. Try <a href="/api/hello?name=kirin">/api/hello</a>, <a href="/robots.txt">/robots.txt</a> or the stylesheet at <a href="/static/style.css">/static/style.css</a>.</p>
    <p>Reload the code without dropping a request: <code>kill -HUP &lt;master pid&gt;</code> or <code>npx kirin reload --config examples/demo/kirin.config.ts</code>.</p>
  </main>
</body>
</html>
`;
}
