import { Injectable } from '@nestjs/common';
import { getOrCreateCounter, getOrCreateGauge } from '@worker-pattern/platform';
import type { Counter, Gauge } from 'prom-client';

/** `fragment_streams_open`: SSE streams this gateway holds open right now; `fragment_streams_refused_total`: the 429s of the per-viewer cap. */
@Injectable()
export class PageStreamMetrics {
  readonly open: Gauge = getOrCreateGauge({
    name: 'fragment_streams_open',
    help: 'Open SSE page streams in this gateway',
  });
  /** Streams refused with 429 because the viewer already has as many open as allowed. */
  readonly refused: Counter = getOrCreateCounter({
    name: 'fragment_streams_refused_total',
    help: 'Page streams refused with 429: the viewer already had the most open streams allowed',
  });
}
