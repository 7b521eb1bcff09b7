import { Histogram, type MetricObjectWithValues, type MetricValueWithName } from 'prom-client';

type Label = 'method' | 'route' | 'status_code';

/** One series: its labels, a count per bucket (not cumulative), the sum and the count. */
interface Series {
  readonly labels: Readonly<Record<Label, string>>;
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/**
 * A prom-client Histogram by method, route and status code, with a fast path
 * for the one observation every request makes: {@link RouteHistogram.record}
 * finds its series through three map lookups instead of hashing a labels object,
 * and allocates nothing once the series exists. Scrapes, `reset()` and the
 * registry see an ordinary histogram; `observe()` still works.
 */
export class RouteHistogram extends Histogram<Label> {
  // `declare`: the base constructor calls reset(), which sets it; a field initialiser would run after and wipe it.
  declare series: Map<string, Map<string, Map<string, Series>>>;
  declare bounds: readonly number[];
  declare exportName: string;
  declare exportHelp: string;

  constructor(config: { name: string; help: string; buckets: readonly number[]; registers: ConstructorParameters<typeof Histogram>[0]['registers'] }) {
    super({ name: config.name, help: config.help, labelNames: ['method', 'route', 'status_code'], buckets: [...config.buckets], registers: config.registers });
    this.bounds = Object.freeze([...config.buckets]);
    this.exportName = config.name;
    this.exportHelp = config.help;
  }

  /** Records one request of `seconds`. */
  record(method: string, route: string, status: string, seconds: number): void {
    let byMethod = this.series.get(route);
    if (byMethod === undefined) this.series.set(route, (byMethod = new Map()));
    let byStatus = byMethod.get(method);
    if (byStatus === undefined) byMethod.set(method, (byStatus = new Map()));
    let series = byStatus.get(status);
    if (series === undefined) {
      series = { labels: Object.freeze({ method, route, status_code: status }), counts: new Float64Array(this.bounds.length), sum: 0, count: 0 };
      byStatus.set(status, series);
    }
    const bounds = this.bounds;
    for (let index = 0; index < bounds.length; index++) {
      if (seconds <= bounds[index]!) {
        series.counts[index]!++;
        break;
      }
    }
    series.sum += seconds;
    series.count++;
  }

  override reset(): void {
    super.reset();
    this.series = new Map();
  }

  override async get(): Promise<MetricObjectWithValues<MetricValueWithName<Label>>> {
    const values: Array<MetricValueWithName<Label>> = [];
    const bucketName = `${this.exportName}_bucket`;
    for (const byMethod of this.series.values()) {
      for (const byStatus of byMethod.values()) {
        for (const series of byStatus.values()) {
          let cumulative = 0;
          for (let index = 0; index < this.bounds.length; index++) {
            cumulative += series.counts[index]!;
            values.push({ labels: { ...series.labels, le: this.bounds[index]! } as never, value: cumulative, metricName: bucketName });
          }
          values.push({ labels: { ...series.labels, le: '+Inf' } as never, value: series.count, metricName: bucketName });
          values.push({ labels: { ...series.labels }, value: series.sum, metricName: `${this.exportName}_sum` });
          values.push({ labels: { ...series.labels }, value: series.count, metricName: `${this.exportName}_count` });
        }
      }
    }
    // prom-client's types name an enum; at run time the type is this string.
    return { name: this.exportName, help: this.exportHelp, type: 'histogram', values, aggregator: 'sum' } as unknown as MetricObjectWithValues<MetricValueWithName<Label>>;
  }

  // The registry prefers this one for the text format; the same values serve both.
  async getForPromString(): Promise<MetricObjectWithValues<MetricValueWithName<Label>>> {
    const data = await this.get();
    return { ...data, values: data.values.map((value) => ({ ...value, sharedLabels: {} }) as MetricValueWithName<Label>) };
  }
}
