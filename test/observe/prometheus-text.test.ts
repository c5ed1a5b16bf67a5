import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PrometheusText, escapeLabelValue, formatNumber } from '../../src/observe/prometheus-text.ts';
import { parsePrometheus, valueOf } from '../support/prometheus.ts';

describe('Prometheus text writer', () => {
  it('writes families a real parser reads back, labels and all', () => {
    const text = new PrometheusText()
      .family('demo_requests_total', 'counter', 'Requests.', [
        [{ site: 'a.test', route: '/' }, 3],
        [{ site: 'b.test', route: '/api/' }, 7],
      ])
      .family('demo_temperature', 'gauge', 'A gauge without labels.', [[{}, 21.5]])
      .toString();
    const parsed = parsePrometheus(text);
    assert.equal(parsed.get('demo_requests_total')?.type, 'COUNTER');
    assert.equal(valueOf(parsed, 'demo_requests_total', { site: 'b.test', route: '/api/' }), 7);
    assert.equal(valueOf(parsed, 'demo_temperature'), 21.5);
  });

  it('escapes label values and help text so hostile names cannot forge samples', () => {
    const nasty = 'a"b\\c\nfake_metric 1';
    const text = new PrometheusText().family('demo_total', 'counter', 'Help with a \\ backslash\nand a newline.', [[{ site: nasty }, 1]]).toString();
    assert.equal(text.split('\n').filter((l) => l.startsWith('fake_metric')).length, 0);
    const parsed = parsePrometheus(text);
    assert.equal(parsed.size, 1);
    assert.equal(parsed.get('demo_total')!.metrics[0]!.labels!.site, nasty);
    assert.equal(escapeLabelValue('x"y'), 'x\\"y');
  });

  it('writes cumulative histogram buckets, +Inf, _sum and _count', () => {
    const text = new PrometheusText().histogram('demo_seconds', 'Latency.', [0.1, 1], [2, 3, 1], 4.2).toString();
    const family = parsePrometheus(text).get('demo_seconds')!;
    assert.equal(family.type, 'HISTOGRAM');
    const sample = family.metrics[0]!;
    assert.deepEqual(sample.buckets, { '0.1': '2', '1': '5', '+Inf': '6' });
    assert.equal(Number(sample.count), 6);
    assert.equal(Number(sample.sum), 4.2);
  });

  it('announces a family that has no samples yet', () => {
    const text = new PrometheusText().family('demo_up', 'gauge', 'Nothing yet.').toString();
    assert.match(text, /^# HELP demo_up Nothing yet\.\n# TYPE demo_up gauge\n$/);
  });

  it('formats special numbers the Prometheus way', () => {
    assert.equal(formatNumber(Infinity), '+Inf');
    assert.equal(formatNumber(-Infinity), '-Inf');
    assert.equal(formatNumber(NaN), 'NaN');
    assert.equal(formatNumber(1e21), '1e+21');
  });
});
