import { Injectable } from '@nestjs/common';
import { Counter, Gauge, register } from 'prom-client';

/** `fragment_streams_open`: SSE streams this gateway holds open right now; `fragment_streams_refused_total`: the 429s of the per-viewer cap. */
@Injectable()
export class PageStreamMetrics {
  readonly open: Gauge;
  /** Streams refused with 429 because the viewer already has as many open as allowed. */
  readonly refused: Counter;

  constructor() {
    const existing = register.getSingleMetric('fragment_streams_open');
    this.open =
      existing instanceof Gauge
        ? existing
        : new Gauge({
            name: 'fragment_streams_open',
            help: 'Open SSE page streams in this gateway',
            registers: [register],
          });
    const refused = register.getSingleMetric('fragment_streams_refused_total');
    this.refused =
      refused instanceof Counter
        ? refused
        : new Counter({
            name: 'fragment_streams_refused_total',
            help: 'Page streams refused with 429: the viewer already had the most open streams allowed',
            registers: [register],
          });
  }
}
