/**
 * A page can carry its Content-Security-Policy in its HTML as well as in a
 * header: `<meta http-equiv="Content-Security-Policy" content="…">` in
 * <head>. Browsers enforce both, so kirin dev's reload script must be let
 * through in the meta tag too, or a page whose policy lives there (a static
 * export, a template that sets it per page) would block the script and never
 * reload. Browsers read such a tag only inside <head>, so only the body's
 * start is held back: until the head ends, the body starts or HEAD_LIMIT
 * bytes, whichever comes first; the rest streams through untouched.
 *
 * The text is handled as latin1, one character per byte: the bytes of the
 * page (UTF-8 or not) come out as they went in, except the tags rewritten,
 * whose policies are ASCII.
 */

/** How much of a body is held while looking for the end of its head: a head is rarely longer. */
export const HEAD_LIMIT = 64 * 1024;

const HEAD_END = /<\/head\b|<body\b/i;
const META_TAG = /<meta\b[^>]*>/gi;
const ATTRIBUTE = /([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;

/** Whether the text seen so far reaches past where a meta policy can be. */
export function headEnded(text: string): boolean {
  return HEAD_END.test(text);
}

/** The text with the policy of each `<meta http-equiv="Content-Security-Policy">` passed through `rewrite`. */
export function rewriteMetaPolicies(text: string, rewrite: (policy: string) => string): string {
  return text.replace(META_TAG, (tag) => {
    let equiv: string | null = null;
    let content: { start: number; end: number; value: string } | null = null;
    // The tag's attributes after "<meta"; the first of a name counts, as in HTML.
    for (const match of tag.slice(5, -1).matchAll(ATTRIBUTE)) {
      const name = match[1]!.toLowerCase();
      const value = decodeEntities(match[2] ?? match[3] ?? match[4] ?? '');
      if (name === 'http-equiv' && equiv === null) equiv = value.trim().toLowerCase();
      else if (name === 'content' && content === null) content = { start: 5 + match.index, end: 5 + match.index + match[0].length, value };
    }
    // A reference beyond latin1 would not survive the way back to bytes; no policy needs one.
    if (equiv !== 'content-security-policy' || content === null || /[^\x00-\xff]/.test(content.value)) return tag;
    return `${tag.slice(0, content.start)}content="${escapeAttribute(rewrite(content.value))}"${tag.slice(content.end)}`;
  });
}

const NAMED: Record<string, string> = { amp: '&', quot: '"', apos: "'", lt: '<', gt: '>' };

/** The character references an attribute value may hold ('&#39;self&#39;' in a single-quoted one). */
function decodeEntities(value: string): string {
  return value.replace(/&(?:#(\d+)|#x([\da-f]+)|(amp|quot|apos|lt|gt));?/gi, (whole, decimal?: string, hex?: string, name?: string) => {
    if (name !== undefined) return NAMED[name.toLowerCase()]!;
    const code = decimal !== undefined ? Number(decimal) : parseInt(hex!, 16);
    return code > 0 && code < 0x110000 ? String.fromCodePoint(code) : whole;
  });
}

function escapeAttribute(value: string): string {
  return value.replaceAll('&', '&amp;').replaceAll('"', '&quot;');
}
