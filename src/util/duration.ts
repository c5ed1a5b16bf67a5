/**
 * "42s", "3m 5s", "5h 12m", "3d 4h": an uptime or a wait, as `kirin status` and
 * the dashboard show it. Self-contained (no imports, no outside names): the
 * admin listener also hands its source to the dashboard's script in the browser.
 */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}
