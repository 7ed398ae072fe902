import { figure, median, percentile, ratio, RunSeries } from './stats';

describe('bench statistics', () => {
  it('takes the median of odd and even counts without reordering the input', () => {
    const input = [5, 1, 3];
    expect(median(input)).toBe(3);
    expect(input).toEqual([5, 1, 3]);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it('summarises runs as median with range', () => {
    expect(figure([10, 30, 20])).toEqual({ runs: [10, 30, 20], median: 20, min: 10, max: 30 });
  });

  it('uses nearest-rank percentiles', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 100)).toBe(100);
    expect(percentile([7], 99)).toBe(7);
  });

  it('compares medians, not means', () => {
    expect(ratio(figure([1, 100, 2]), figure([4, 4, 4]))).toBe(0.5);
  });

  it('collects named figures across runs', () => {
    const series = new RunSeries<'rps' | 'p99'>();
    series.addAll({ rps: 100, p99: 9 });
    series.addAll({ rps: 300, p99: 7 });
    series.add('rps', 200);
    expect(series.get('rps').median).toBe(200);
    expect(series.figures().p99.runs).toEqual([9, 7]);
  });
});
