/**
 * Letting `kirin dev`'s reload script through a page's Content-Security-Policy
 * (dev only): the script's hash goes into the directive that governs inline
 * scripts, and 'self' into the one that governs its event stream. Nothing else
 * loosens: a hash allows this one script, not inline scripts in general, and a
 * directive the page did not have is made from default-src's sources, so only
 * the reload script and its stream gain anything.
 *
 * Hashes rather than nonces: the script is the same for every response of a
 * worker, so its hash is computed once and works beside the page's own nonces
 * and 'strict-dynamic'.
 */

/** A policy that lets the script with this hash ('sha256-…', quoted) run and connect to the page's own origin. */
export function allowReloadScript(policy: string, scriptHash: string): string {
  const directives = parsePolicy(policy);
  if (directives.has('sandbox') && !(directives.get('sandbox') ?? []).includes('allow-scripts')) return policy;
  // script-src-elem governs <script> elements when present; script-src, then default-src, otherwise.
  const script = governing(directives, ['script-src-elem', 'script-src']);
  if (script !== null && !allowsInline(script.sources)) directives.set(script.name, withSource(script.sources, scriptHash));
  const connect = governing(directives, ['connect-src']);
  if (connect !== null && !allowsSameOrigin(connect.sources)) directives.set(connect.name, withSource(connect.sources, "'self'"));
  return [...directives].map(([name, sources]) => [name, ...sources].join(' ')).join('; ');
}

type Directives = Map<string, string[]>;

function parsePolicy(policy: string): Directives {
  const directives: Directives = new Map();
  for (const text of policy.split(';')) {
    const [name, ...sources] = text.trim().split(/\s+/);
    // The first occurrence of a directive counts; browsers ignore repeats.
    if (name && !directives.has(name.toLowerCase())) directives.set(name.toLowerCase(), sources);
  }
  return directives;
}

/**
 * The directive a browser would use, by name; when only default-src applies, the first name,
 * to be added with default-src's sources (default-src itself also covers styles, images, …).
 */
function governing(directives: Directives, names: string[]): { name: string; sources: string[] } | null {
  for (const name of names) {
    const sources = directives.get(name);
    if (sources) return { name, sources };
  }
  const fallback = directives.get('default-src');
  return fallback ? { name: names.at(-1)!, sources: fallback } : null;
}

function withSource(sources: string[], source: string): string[] {
  return [...sources.filter((s) => s.toLowerCase() !== "'none'"), source];
}

/** 'unsafe-inline' counts only without a hash, nonce or 'strict-dynamic' beside it (CSP level 2+). */
function allowsInline(sources: string[]): boolean {
  const lower = sources.map((s) => s.toLowerCase());
  return lower.includes("'unsafe-inline'") && !lower.some((s) => s === "'strict-dynamic'" || s.startsWith("'nonce-") || /^'sha(256|384|512)-/.test(s));
}

function allowsSameOrigin(sources: string[]): boolean {
  return sources.some((s) => s === '*' || s.toLowerCase() === "'self'");
}
