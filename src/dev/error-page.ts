/**
 * The development error page (kirin dev only; `kirin serve` answers a bare
 * 500): the error, a code frame of the failing line, the stack with source
 * positions, the request with its secrets redacted (the same rule as error
 * reports: src/observe/redact.ts), and the Kirin route that handled it.
 * JSON for clients that ask for it (`Accept: application/json`).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { redactHeaders, redactTarget } from '../observe/redact.ts';
import type { NodeRequest, NodeResponse } from '../worker/context.ts';
import { codeFrame, errorLocation, parseStack, stackOf, stackWithoutHeader, syntaxErrorLocation, type CodeFrame, type StackFrame } from './stack.ts';

export interface ErrorReport {
  /** What went wrong, in a few words: "The app failed to load". */
  title: string;
  error: unknown;
  /** Where Kirin sent the request: sites["localhost"]["/"] → app ./app.ts; null when no route was reached. */
  route: string | null;
  /** A likely fix Kirin can name ("package.json says \"type\": \"commonjs\" …"). */
  hint?: string | null;
}

export interface ErrorDocument {
  title: string;
  error: { name: string; message: string; stack: string };
  location: { file: string; line: number; column: number } | null;
  codeFrame: CodeFrame | null;
  frames: StackFrame[];
  request: { method: string; url: string; headers: Record<string, string> };
  route: string | null;
  hint: string | null;
}

export function describeError(report: ErrorReport, req: NodeRequest): ErrorDocument {
  const stack = stackOf(report.error);
  const error = report.error instanceof Error ? report.error : null;
  const location = errorLocation(report.error);
  return {
    title: report.title,
    error: { name: error?.name ?? 'Error', message: error?.message ?? String(report.error), stack: stackWithoutHeader(stack) },
    location: location && { file: location.file, line: location.line, column: location.column },
    codeFrame: location && codeFrame(location),
    // A file that did not parse ran nothing: the frames would only be Node's loader.
    frames: syntaxErrorLocation(stack) ? [] : parseStack(stack),
    request: { method: req.method ?? 'GET', url: redactTarget(req.url ?? '/'), headers: redactHeaders(req.headers as IncomingHttpHeaders) },
    route: report.route,
    hint: report.hint ?? null,
  };
}

/** Answers with the error page (HTML, or JSON when asked); a response already started is cut off instead. */
export function sendErrorPage(req: NodeRequest, res: NodeResponse, report: ErrorReport): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const doc = describeError(report, req);
  const json = /\bapplication\/json\b/.test(String(req.headers.accept ?? ''));
  const body = json ? JSON.stringify(doc, null, 2) : renderHtml(doc);
  res.writeHead(500, {
    'content-type': json ? 'application/json; charset=utf-8' : 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

export function renderHtml(doc: ErrorDocument): string {
  const where = doc.location ? `${doc.location.file}:${doc.location.line}:${doc.location.column}` : 'no position in your code';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<link rel="icon" href="data:,">
<title>${escape(doc.error.name)}: ${escape(firstLine(doc.error.message))} — kirin dev</title>
<style>${STYLE}</style></head>
<body>
<header><p class="kind">${escape(doc.title)}</p><h1>${escape(doc.error.name)}: ${escape(doc.error.message)}</h1><p class="where">${escape(where)}</p>${doc.hint ? `<p class="hint">${escape(doc.hint)}</p>` : ''}</header>
${doc.codeFrame ? renderCodeFrame(doc.codeFrame) : ''}
<section><h2>Stack</h2>${doc.frames.length ? `<ol class="stack">${doc.frames.map(renderFrame).join('')}</ol>` : `<p>${doc.codeFrame ? 'none: the file did not parse, so nothing in it ran' : 'none recorded'}</p>`}</section>
<section><h2>Request</h2><p class="request">${escape(doc.request.method)} ${escape(doc.request.url)}</p>
<table>${Object.entries(doc.request.headers).map(([name, value]) => `<tr><th>${escape(name)}</th><td>${escape(value)}</td></tr>`).join('')}</table></section>
<section><h2>Route</h2><p>${escape(doc.route ?? 'none: the app failed before a route was reached')}</p></section>
<footer>kirin dev shows this page because the app failed; <code>kirin serve</code> answers 500 without details. Save a file to try again.</footer>
</body></html>
`;
}

function renderCodeFrame(frame: CodeFrame): string {
  const rows = frame.lines
    .map((line) => `<tr${line.focus ? ' class="focus"' : ''}><td class="n">${line.number}</td><td><code>${escape(line.text) || ' '}</code>${line.focus ? `<code class="caret">${' '.repeat(Math.max(0, frame.column - 1))}^</code>` : ''}</td></tr>`)
    .join('');
  return `<section class="frame"><h2>${escape(frame.file)}:${frame.line}:${frame.column}</h2><table class="code">${rows}</table></section>`;
}

function renderFrame(frame: StackFrame): string {
  return `<li${frame.own ? ' class="own"' : ''}><span class="fn">${escape(frame.fn || '(top level)')}</span> <span class="file">${escape(frame.file)}:${frame.line}:${frame.column}</span></li>`;
}

function firstLine(text: string): string {
  return text.split('\n')[0]!.slice(0, 120);
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

const STYLE = `
body{margin:0;font:15px/1.5 system-ui,sans-serif;color:#1f2328;background:#fff}
header{background:#fbe9e7;border-bottom:1px solid #e8b4ab;padding:1.2em 2em}
.kind{margin:0;color:#8a1c0c;font-weight:600;text-transform:uppercase;font-size:.8em;letter-spacing:.05em}
h1{margin:.2em 0;font-size:1.4em;white-space:pre-wrap;word-break:break-word}
.where{margin:0;font-family:ui-monospace,monospace;color:#57606a}
.hint{margin:.6em 0 0;font-weight:600}
section{padding:.6em 2em}
h2{font-size:1em;margin:.6em 0;color:#57606a}
table{border-collapse:collapse}
.code{font-family:ui-monospace,monospace;font-size:13px;background:#f6f8fa;width:100%}
.code td{padding:0 .8em;vertical-align:top}
.code .n{color:#8c959f;text-align:right;user-select:none;width:1%}
.code code{white-space:pre;display:block}
.code .focus{background:#ffebe9}
.code .caret{color:#cf222e;font-weight:700}
.stack{font-family:ui-monospace,monospace;font-size:13px;padding-left:1.5em}
.stack li{color:#8c959f}
.stack li.own{color:#1f2328;font-weight:600}
.request{font-family:ui-monospace,monospace}
th,td{text-align:left;padding:.1em .8em .1em 0;font-family:ui-monospace,monospace;font-size:13px;vertical-align:top;word-break:break-all}
th{color:#57606a;font-weight:500;white-space:nowrap}
footer{padding:1em 2em;color:#57606a;font-size:.9em;border-top:1px solid #d0d7de}
`;
