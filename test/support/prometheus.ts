/**
 * Reading /metrics in tests with a real Prometheus text parser
 * (parse-prometheus-text-format, a port of the Prometheus client_python parser),
 * plus the rules it does not check: one HELP/TYPE per family, counters named
 * *_total, every value a number.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

export interface ParsedSample {
  labels?: Record<string, string>;
  value?: string;
  buckets?: Record<string, string>;
  count?: string;
  sum?: string;
}

export interface ParsedFamily {
  name: string;
  help: string;
  type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
  metrics: ParsedSample[];
}

const require = createRequire(import.meta.url);
const parse = require('parse-prometheus-text-format') as (text: string) => ParsedFamily[];

export function parsePrometheus(text: string): Map<string, ParsedFamily> {
  const families = parse(text);
  const byName = new Map<string, ParsedFamily>();
  for (const family of families) {
    assert.ok(!byName.has(family.name), `family ${family.name} appears twice`);
    assert.notEqual(family.type, 'UNTYPED', `family ${family.name} has no TYPE line`);
    assert.ok(family.help.length > 0, `family ${family.name} has no HELP`);
    if (family.type === 'COUNTER') assert.match(family.name, /_total$/, `counter ${family.name} should end in _total`);
    for (const sample of family.metrics) {
      for (const v of [sample.value, sample.count, sample.sum, ...Object.values(sample.buckets ?? {})]) {
        if (v !== undefined) assert.ok(!Number.isNaN(Number(v)) || v === 'NaN', `${family.name}: ${v} is not a number`);
      }
    }
    byName.set(family.name, family);
  }
  return byName;
}

/** The value of the sample of `name` whose labels include `labels`; undefined when there is none. */
export function valueOf(families: Map<string, ParsedFamily>, name: string, labels: Record<string, string> = {}): number | undefined {
  const family = families.get(name);
  assert.ok(family, `no family ${name} in /metrics`);
  const sample = family.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return sample?.value === undefined ? undefined : Number(sample.value);
}
