import { Injectable } from '@nestjs/common';
import { Gauge, register } from 'prom-client';

/** `fragment_streams_open`: SSE streams this gateway holds open right now. */
@Injectable()
export class PageStreamMetrics {
  readonly open: Gauge;

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
  }
}
