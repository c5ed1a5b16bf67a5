/** What an edge peer (nginx, Caddy) serves on one port: a static folder, or a proxy to one upstream. */
export type EdgeSite = { port: number; staticRoot: string } | { port: number; upstreamPort: number };

export function isStatic(site: EdgeSite): site is { port: number; staticRoot: string } {
  return 'staticRoot' in site;
}
