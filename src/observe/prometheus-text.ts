/**
 * The Prometheus text exposition format (version 0.0.4), written by hand.
 *
 * Why not prom-client: it is built for metrics counted inside the process that
 * serves them (`counter.inc()`), and it cannot take a histogram whose buckets
 * were counted elsewhere. Here every number is already aggregated by the master
 * from the workers' heartbeats, so all /metrics needs is the text format — a
 * few escaping rules, tested against a real Prometheus parser.
 */

export type Labels = Record<string, string | number>;

export type MetricType = 'counter' | 'gauge' | 'histogram';

export class PrometheusText {
  #out = '';

  /** One family: HELP and TYPE lines, then its samples (none is fine: the family is still announced). */
  family(name: string, type: MetricType, help: string, samples: Iterable<readonly [Labels, number]> = []): this {
    this.#out += `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}\n`;
    for (const [labels, value] of samples) this.#sample(name, labels, value);
    return this;
  }

  /**
   * A histogram from per-bucket counts (not cumulative; the last count is the +Inf bucket),
   * written the way Prometheus wants it: cumulative `_bucket{le}` lines, `_sum`, `_count`.
   */
  histogram(name: string, help: string, bounds: readonly number[], counts: readonly number[], sum: number, labels: Labels = {}): this {
    this.#out += `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} histogram\n`;
    let cumulative = 0;
    for (let i = 0; i <= bounds.length; i++) {
      cumulative += counts[i] ?? 0;
      this.#sample(`${name}_bucket`, { ...labels, le: i < bounds.length ? formatNumber(bounds[i]!) : '+Inf' }, cumulative);
    }
    this.#sample(`${name}_sum`, labels, sum);
    this.#sample(`${name}_count`, labels, cumulative);
    return this;
  }

  toString(): string {
    return this.#out;
  }

  #sample(name: string, labels: Labels, value: number): void {
    const pairs = Object.entries(labels);
    const labelText = pairs.length === 0 ? '' : `{${pairs.map(([k, v]) => `${k}="${escapeLabelValue(String(v))}"`).join(',')}}`;
    this.#out += `${name}${labelText} ${formatNumber(value)}\n`;
  }
}

/** Label values: backslash, double quote and line feed are escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

/** HELP text: backslash and line feed are escaped (quotes are not). */
function escapeHelp(text: string): string {
  return text.replace(/[\\\n]/g, (c) => (c === '\n' ? '\\n' : '\\\\'));
}

export function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}
