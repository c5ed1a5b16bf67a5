/**
 * What a plain-HTTP visitor gets from the relay while the home end is
 * unreachable: a short page that says the site is down for now, not that it
 * is gone. Retry-After and no-store keep browsers and caches from holding on
 * to it.
 */
const BODY = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Temporarily unavailable</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36em;margin:15vh auto;padding:0 1em;color:#1c2230}h1{font-size:1.4em}</style></head>
<body>
<h1>This site is temporarily unavailable</h1>
<p>The server behind it cannot be reached right now. Please try again in a few minutes.</p>
</body>
</html>
`;

export const SITE_DOWN_PAGE = Buffer.from(
  `HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(BODY)}\r\nRetry-After: 30\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n${BODY}`,
);
