/**
 * Does a file name carry a content hash (so its content can never change)?
 *
 * `immutable: true` gives a year of caching only to such names, as WhiteNoise
 * does: Django's collectstatic leaves `app.css` next to `app.3f9a2c1b4d5e.css`,
 * and a year of caching for the first would pin a stale file in browsers.
 * A wrong "no" only costs a revalidation (304); a wrong "yes" serves stale
 * content for a year — so the test leans to "no".
 *
 * Recognised (the hash stands after a '.' or '-', before a later '.'):
 * - hex of 8 or more characters: Django `app.3f9a2c1b4d5e.css`, webpack and
 *   Parcel `main.1a2b3c4d.js`, Next.js `webpack-8fa1640cc84ba8fe.js`;
 * - exactly 8 characters of [A-Za-z0-9_] with at least one digit and one
 *   letter: Vite/Rollup `index-B7x9Jz3a.js`, esbuild `app-5QO2HVKM.js`.
 *   (Names like `OpenSans-SemiBold.ttf` have no digit and stay mutable.)
 */

const HEX = /^[0-9a-f]{8,}$/i;
const SHORT_HASH = /^(?=[A-Za-z0-9_]*[0-9])(?=[A-Za-z0-9_]*[A-Za-z])[A-Za-z0-9_]{8}$/;

export function looksHashed(fileName: string): boolean {
  const parts = fileName.split('.');
  // parts[last] is the extension; a name without one carries no hash we can see.
  for (let i = 0; i < parts.length - 1; i++) {
    const part = parts[i]!;
    // A whole '.'-separated part, except the leading base name: app.<hash>.css
    if (i > 0 && (HEX.test(part) || SHORT_HASH.test(part))) return true;
    // The tail after the last '-': index-<hash>.js
    const dash = part.lastIndexOf('-');
    if (dash !== -1) {
      const tail = part.slice(dash + 1);
      if (HEX.test(tail) || SHORT_HASH.test(tail)) return true;
    }
  }
  return false;
}
