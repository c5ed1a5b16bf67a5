/**
 * The dashboard's HTML and CSS. Plain text served by the admin listener: no
 * build step, nothing from the internet, no inline script (the page runs
 * under a strict Content-Security-Policy).
 */

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Kirin</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="dashboard.css">
<script src="dashboard.js" defer></script>
</head>
<body>
<header>
  <h1>Kirin</h1>
  <span id="host" class="muted"></span>
  <span id="health" class="badge">…</span>
  <span id="ready" class="badge">…</span>
  <span id="connection" class="muted"></span>
</header>
<p id="reasons" class="reasons" hidden></p>
<main>
  <section class="cards" aria-label="Now">
    <div class="card"><span class="label">Requests/s</span><span id="card-rate" class="value">–</span></div>
    <div class="card"><span class="label">5xx/s</span><span id="card-errors" class="value">–</span></div>
    <div class="card"><span class="label">p95 latency</span><span id="card-p95" class="value">–</span></div>
    <div class="card"><span class="label">In flight</span><span id="card-inflight" class="value">–</span></div>
    <div class="card"><span class="label">Requests</span><span id="card-total" class="value">–</span></div>
    <div class="card"><span class="label">Uptime</span><span id="card-uptime" class="value">–</span></div>
  </section>
  <section class="charts">
    <figure><figcaption>Requests per second <span class="legend"><i class="l1"></i>all <i class="l2"></i>5xx</span></figcaption><svg id="chart-rate" viewBox="0 0 640 180" role="img" aria-label="Requests per second over the last 15 minutes"></svg></figure>
    <figure><figcaption>Latency, ms <span class="legend"><i class="l1"></i>p95 <i class="l3"></i>mean</span></figcaption><svg id="chart-latency" viewBox="0 0 640 180" role="img" aria-label="Latency over the last 15 minutes"></svg></figure>
  </section>
  <section id="relay" hidden>
    <h2>Relay <span id="relay-summary" class="muted"></span></h2>
    <table id="relay-table">
      <thead><tr><th>Home end</th><th>State</th><th>WireGuard handshake</th><th>Open</th><th>Relayed</th><th>Refused</th><th>In</th><th>Out</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section>
    <h2>Workers <span id="workers-summary" class="muted"></span></h2>
    <table id="workers">
      <thead><tr><th>#</th><th>PID</th><th>Gen.</th><th>State</th><th>Uptime</th><th>RSS</th><th>Requests</th><th>In flight</th><th>WebSockets</th><th>Restarts</th></tr></thead>
      <tbody></tbody>
    </table>
    <p id="restarts" class="muted"></p>
  </section>
  <section>
    <h2>Sites and routes</h2>
    <table id="sites">
      <thead><tr><th>Site</th><th>TLS</th><th>Route</th><th>Handler</th><th>Target</th><th>Middleware</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <div class="columns">
    <section>
      <h2>Services</h2>
      <table id="services">
        <thead><tr><th>Name</th><th>State</th><th>PID</th><th>Restarts</th><th>Upstream</th></tr></thead>
        <tbody></tbody>
      </table>
    </section>
    <section>
      <h2>Upstreams</h2>
      <table id="upstreams">
        <thead><tr><th>Route</th><th>URL</th><th>Health</th><th>Since</th></tr></thead>
        <tbody></tbody>
      </table>
    </section>
  </div>
  <section>
    <h2>Certificates</h2>
    <table id="certificates">
      <thead><tr><th>Names</th><th>Source</th><th>Issuer</th><th>State</th><th>Expires</th><th>Renews</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section>
    <h2>DDNS</h2>
    <p id="ddns-reach" class="muted"></p>
    <table id="ddns">
      <thead><tr><th>Name</th><th>A</th><th>AAAA</th><th>Last answer</th><th>At</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section>
    <h2>Last errors</h2>
    <ol id="errors"></ol>
  </section>
</main>
<footer class="muted"><span id="version"></span> · <a href="metrics">/metrics</a> · <a href="api/status">/api/status</a> · <a href="healthz">/healthz</a> · <a href="readyz">/readyz</a></footer>
</body>
</html>
`;

export const LOGIN_HTML = (message: string): string => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Kirin — sign in</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="dashboard.css">
</head>
<body class="login">
<form method="post" action="login">
  <h1>Kirin</h1>
  <p>This admin listener needs its token (<code>admin.token</code> in the config).</p>
  ${message ? `<p class="error">${message}</p>` : ''}
  <label>Token <input type="password" name="token" autocomplete="current-password" required autofocus></label>
  <button type="submit">Sign in</button>
</form>
</body>
</html>
`;

export const DASHBOARD_CSS = `
:root {
  color-scheme: light dark;
  --bg: #f6f7f9; --panel: #fff; --text: #1c2230; --muted: #6b7385; --line: #e2e5ea;
  --accent: #2f6fde; --bad: #d2363b; --good: #1f9d55; --warn: #c47f00; --mean: #8a63d2;
}
@media (prefers-color-scheme: dark) {
  :root { --bg: #12151b; --panel: #1a1f27; --text: #e4e7ec; --muted: #8c94a5; --line: #2b313c; --accent: #6c9ef0; --mean: #b196ea; }
}
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--text); }
header { display: flex; align-items: center; gap: 12px; padding: 12px 24px; background: var(--panel); border-bottom: 1px solid var(--line); }
h1 { font-size: 20px; margin: 0; letter-spacing: .02em; }
h2 { font-size: 15px; margin: 0 0 8px; }
main { padding: 16px 24px; display: grid; gap: 16px; }
section, figure { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; margin: 0; overflow-x: auto; }
.muted { color: var(--muted); font-weight: normal; }
.badge { padding: 2px 10px; border-radius: 999px; font-size: 12px; font-weight: 600; background: var(--line); }
.badge.ok { background: var(--good); color: #fff; }
.badge.bad { background: var(--bad); color: #fff; }
.reasons { margin: 0; padding: 8px 24px; background: var(--bad); color: #fff; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr)); gap: 12px; background: none; border: 0; padding: 0; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; display: flex; flex-direction: column; }
.card .label { color: var(--muted); font-size: 12px; }
.card .value { font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; }
.charts, .columns { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; background: none; border: 0; padding: 0; }
figcaption { font-weight: 600; margin-bottom: 4px; display: flex; justify-content: space-between; }
.legend { font-weight: normal; color: var(--muted); font-size: 12px; }
.legend i { display: inline-block; width: 12px; height: 3px; margin: 0 4px 3px 10px; vertical-align: middle; }
.legend .l1 { background: var(--accent); } .legend .l2 { background: var(--bad); } .legend .l3 { background: var(--mean); }
svg { width: 100%; height: auto; display: block; }
svg .grid { stroke: var(--line); stroke-width: 1; }
svg .axis { fill: var(--muted); font-size: 11px; }
svg .s1 { stroke: var(--accent); } svg .s2 { stroke: var(--bad); } svg .s3 { stroke: var(--mean); }
svg polyline { fill: none; stroke-width: 2; stroke-linejoin: round; }
svg .area { fill: var(--accent); opacity: .12; stroke: none; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { color: var(--muted); font-weight: 600; font-size: 12px; }
td.wrap { white-space: normal; word-break: break-all; }
td.empty { color: var(--muted); font-style: italic; }
.state-ready, .state-running, .state-healthy, .state-valid { color: var(--good); font-weight: 600; }
.state-booting, .state-starting, .state-pending, .state-draining, .state-restarting { color: var(--warn); font-weight: 600; }
.state-down, .state-failed, .state-expired, .state-stopped { color: var(--bad); font-weight: 600; }
#errors { list-style: none; margin: 0; padding: 0; }
#errors li { border-bottom: 1px solid var(--line); padding: 6px 0; }
#errors .when { color: var(--muted); font-size: 12px; margin-right: 8px; }
#errors .kind { font-size: 11px; padding: 1px 6px; border-radius: 4px; background: var(--line); margin-right: 8px; }
#errors .count { color: var(--muted); margin-left: 6px; }
#errors pre { margin: 6px 0 0; padding: 8px; background: var(--bg); border-radius: 6px; overflow-x: auto; font-size: 12px; }
footer { padding: 8px 24px 24px; }
a { color: var(--accent); }
body.login { display: grid; place-items: center; min-height: 100vh; }
body.login form { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 24px; width: min(420px, 90vw); display: grid; gap: 12px; }
body.login input { width: 100%; padding: 8px; font: inherit; }
body.login button { padding: 8px; font: inherit; cursor: pointer; }
.error { color: var(--bad); }
`;
