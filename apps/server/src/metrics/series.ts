/**
 * Counters and histograms for the per-request and per-storage-call series. prom-client's
 * own validate and hash the label object on every observation, which showed in profiles
 * of the send path; here a series is looked up once (`child`) and an observation is a few
 * additions. They register into a prom-client Registry as custom metrics, so the
 * exposition text is the one prom-client writes for its own counters and histograms.
 */

type Labels<L extends string> = Readonly<Record<L, string>>;

interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

interface MetricSnapshot {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  values: MetricValue[];
  aggregator: 'sum';
}

interface Registerable {
  registerMetric(metric: never): void;
}

/** Series by their label values, in label-name order (the key a child is found by). */
abstract class LabelledSeries<L extends string, S> {
  private readonly series = new Map<string, { labels: Labels<L>; data: S }>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly L[],
    registers: readonly Registerable[],
  ) {
    for (const r of registers) r.registerMetric(this as never);
  }

  protected abstract create(): S;

  /** The series of these labels; keep it to observe without a lookup. */
  protected seriesOf(labels: Labels<L>): S {
    let key = '';
    for (const n of this.labelNames) key += labels[n] + '\u0000';
    let s = this.series.get(key);
    if (!s) {
      const own = {} as Record<L, string>;
      for (const n of this.labelNames) own[n] = String(labels[n]);
      s = { labels: own, data: this.create() };
      this.series.set(key, s);
    }
    return s.data;
  }

  protected entries(): IterableIterator<{ labels: Labels<L>; data: S }> {
    return this.series.values();
  }
}

export class CounterSeries<L extends string> extends LabelledSeries<L, { value: number }> {
  readonly type = 'counter';

  protected create(): { value: number } {
    return { value: 0 };
  }

  /** The counter of these labels: `c.value += n` counts. */
  child(labels: Labels<L>): { value: number } {
    return this.seriesOf(labels);
  }

  get(): MetricSnapshot {
    const values: MetricValue[] = [];
    for (const { labels, data } of this.entries()) values.push({ labels: { ...labels }, value: data.value });
    return { name: this.name, help: this.help, type: this.type, values, aggregator: 'sum' };
  }
}

export class HistogramChild {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    this.sum += value;
    this.count++;
    const b = this.bounds;
    for (let i = 0; i < b.length; i++) {
      if (value <= b[i]!) {
        this.counts[i]!++;
        return;
      }
    }
  }

  /** Seconds since `startedMs` (a `performance.now()` reading). */
  observeSince(startedMs: number): void {
    this.observe((performance.now() - startedMs) / 1000);
  }
}

export class HistogramSeries<L extends string> extends LabelledSeries<L, HistogramChild> {
  readonly type = 'histogram';

  constructor(name: string, help: string, labelNames: readonly L[], private readonly buckets: readonly number[], registers: readonly Registerable[]) {
    super(name, help, labelNames, registers);
  }

  protected create(): HistogramChild {
    return new HistogramChild(this.buckets);
  }

  child(labels: Labels<L>): HistogramChild {
    return this.seriesOf(labels);
  }

  get(): MetricSnapshot {
    const values: MetricValue[] = [];
    for (const { labels, data } of this.entries()) {
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += data.counts[i]!;
        values.push({ labels: { le, ...labels }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { le: '+Inf', ...labels }, value: data.count, metricName: `${this.name}_bucket` });
      values.push({ labels: { ...labels }, value: data.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...labels }, value: data.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: 'sum' };
  }
}
