import { parsePrometheus, sumOf } from './prometheus';

describe('parsePrometheus', () => {
  const text = [
    '# HELP fragment_builds_total Build attempts by outcome',
    '# TYPE fragment_builds_total counter',
    'fragment_builds_total{fragment="profile",outcome="built",service="profile-worker"} 12',
    'fragment_builds_total{fragment="profile",outcome="superseded",service="profile-worker"} 3',
    'fragment_build_seconds_sum{fragment="profile"} 0.25',
    'process_resident_memory_bytes 123456',
  ].join('\n');

  it('reads names, labels and values', () => {
    const samples = parsePrometheus(text);
    expect(samples).toHaveLength(4);
    expect(samples[0]).toEqual({
      name: 'fragment_builds_total',
      labels: { fragment: 'profile', outcome: 'built', service: 'profile-worker' },
      value: 12,
    });
    expect(samples[3]).toEqual({ name: 'process_resident_memory_bytes', labels: {}, value: 123456 });
  });

  it('sums the samples matching some labels', () => {
    const samples = parsePrometheus(text);
    expect(sumOf(samples, 'fragment_builds_total', { fragment: 'profile' })).toBe(15);
    expect(sumOf(samples, 'fragment_builds_total', { outcome: 'built' })).toBe(12);
    expect(sumOf(samples, 'missing')).toBe(0);
  });
});
