import {
  Controller,
  Get,
  HttpException,
  HttpStatus,
  Param,
  Query,
  Req,
  Res,
  UseFilters,
  UseGuards,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiOperation,
  ApiParam,
  ApiProduces,
  ApiQuery,
  ApiResponse,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import {
  RateLimitCountedByRoute,
  RouteRateLimit,
  StreamViewerGuard,
  ViewerId,
  type ViewerRequest,
} from '@worker-pattern/auth';
import { FragmentWatcher, renderFragmentJson } from '@worker-pattern/fragment';
import type { FastifyReply } from 'fastify';
import { ApiErrorResponses } from '@worker-pattern/platform';
import { beforeCountedRead, withRouteCount } from './counted-read';
import { FragmentErrorsFilter } from './fragment-errors.filter';
import { retryAfterSeconds } from './fragment-http';
import { PageCatalog } from './page-catalog';
import { PAGES } from './page-definition';
import { PageStreamMetrics } from './page-stream.metrics';
import { refuseUnknownParams, type RawQuery } from './request-query';
import {
  MAX_STREAMS_PER_VIEWER,
  STREAM_HEARTBEAT_MS,
  type StreamSlot,
  type StreamSlotAnswer,
  ViewerStreamSlots,
} from './viewer-stream-slots';

/** How long an EventSource waits before reconnecting after the stream drops. */
const RECONNECT_MS = 2000;
/** setTimeout's longest delay (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * `GET /api/pages/:page/stream`: Server-Sent Events. First one `fragment` event per fragment with
 * its current state (cold fragments are leased and enqueued, as by any page request), then one
 * `fragment` event each time a fragment settles, pushed by the workers' readiness events, and a
 * `heartbeat` after the initial states and every 15 s; `expired` when the token behind it runs out,
 * and the end. Open copies are kept live (see FragmentWatcher). Per connection Redis sees the
 * viewer's stream slot (taken in one script call with the viewer's rate-limit count when the token
 * came as a bearer header, renewed with each heartbeat, released) and, when a watched fragment
 * settles, nothing more when its event brought the fresh copy, else one read.
 */
@ApiTags('pages')
@Controller('api/pages')
@UseFilters(FragmentErrorsFilter)
export class PageStreamController {
  constructor(
    private readonly catalog: PageCatalog,
    private readonly watcher: FragmentWatcher,
    private readonly metrics: PageStreamMetrics,
    private readonly slots: ViewerStreamSlots,
  ) {}

  @Get(':page/stream')
  @UseGuards(StreamViewerGuard)
  @RateLimitCountedByRoute()
  @ApiOperation({
    summary: 'A page as Server-Sent Events',
    description:
      'One `event: fragment` per fragment with its current state (`data:` is a FragmentEvent), then one each time a fragment settles, and `event: heartbeat` after the initial states and every 15 s. When the token behind the stream expires it sends `event: expired` and ends: open it again with a new ticket. Authenticate with the Authorization header or, from a browser’s EventSource, with `?ticket=` from POST /api/auth/stream-ticket. At most 5 open streams per viewer, across every gateway replica; a 6th answers 429 until one closes (or, for a stream whose gateway died, within 45 s), with Retry-After saying when the first open slot lapses unless renewed.',
  })
  @ApiBearerAuth()
  @ApiSecurity('streamTicket')
  @ApiParam({ name: 'page', enum: PAGES.map((p) => p.name), description: 'The page' })
  @ApiQuery({
    name: 'ticket',
    required: false,
    schema: { type: 'string' },
    description: 'A stream ticket, for clients that cannot send headers',
  })
  @ApiProduces('text/event-stream')
  @ApiResponse({
    status: 200,
    description: 'The event stream; the `data:` of each `event: fragment` is a FragmentEvent (see Schemas)',
    content: {
      'text/event-stream': {
        schema: {
          type: 'string',
          example: 'event: fragment\ndata: {"name":"profile","status":"pending","retryAfterMs":500}\n\n',
        },
      },
    },
  })
  @ApiErrorResponses(400, 401, 404, 429, 503)
  async stream(
    @Param('page') name: string,
    @Query() query: RawQuery,
    @ViewerId() viewerId: number,
    @Req() request: ViewerRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const limit = RouteRateLimit.of(request);
    const page = await beforeCountedRead(limit, () => {
      const definition = this.catalog.get(name);
      const rest: RawQuery = { ...query };
      delete rest['ticket'];
      refuseUnknownParams(rest, definition.name);
      return definition;
    });

    const response = reply.raw;
    const targets = this.catalog.targets(page, viewerId);
    const names = page.fragments.map((f) => JSON.stringify(f.name));
    // States found before the headers go out wait here; a failure up to then is an ordinary 503.
    const early: string[] = [];
    let write = (chunk: string): void => void early.push(chunk);
    let closed = false;
    response.once('close', () => {
      closed = true;
    });
    const { slot, ...refused } = await this.acquireSlot(viewerId, limit);
    if (!slot) {
      if ('retryAfterMs' in refused) reply.header('retry-after', retryAfterSeconds(refused.retryAfterMs));
      this.metrics.refused.inc();
      throw new HttpException(
        {
          statusCode: HttpStatus.TOO_MANY_REQUESTS,
          error: 'Too Many Requests',
          message: `too many open streams for this viewer (at most ${MAX_STREAMS_PER_VIEWER} across all gateways)`,
        },
        HttpStatus.TOO_MANY_REQUESTS,
      );
    }
    this.opened();

    let stop: () => void;
    try {
      stop = await this.watcher.watch(targets, {
        requestId: request.id,
        onState: (index, state) =>
          write(`event: fragment\ndata: ${renderFragmentJson(state, `"name":${names[index]}`)}\n\n`),
      });
    } catch (error) {
      this.closed(slot);
      throw error;
    }
    if (closed) {
      stop();
      this.closed(slot);
      return;
    }

    void reply.hijack();
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'x-request-id': request.id,
    });
    write = (chunk) => void (!closed && response.write(chunk));
    write(`retry: ${RECONNECT_MS}\n\n${early.join('')}`);
    const heartbeat = (): void =>
      write(`event: heartbeat\ndata: {"at":${JSON.stringify(new Date().toISOString())}}\n\n`);
    heartbeat();
    const timer = setInterval(() => {
      heartbeat();
      void slot.renew();
    }, STREAM_HEARTBEAT_MS);
    // The stream lasts as long as the credential behind it: then it says so and ends, and the client
    // opens a new one with a fresh ticket (see libs/fragment-client).
    const expiry = setTimeout(
      () => {
        write(
          `event: expired\ndata: {"reason":"the token behind this stream expired; open it again with a new ticket"}\n\n`,
        );
        response.end();
      },
      Math.min(MAX_TIMER_MS, Math.max(0, (request.viewerSessionEndsAt ?? Number.POSITIVE_INFINITY) - Date.now())),
    );
    response.once('close', () => {
      clearTimeout(expiry);
      clearInterval(timer);
      stop();
      this.closed(slot);
    });
  }

  /**
   * The viewer's stream slot; with the rate-limit count the guard left to this route (a bearer
   * token), counted in the same script call: one Redis round trip before the stream reads.
   */
  private async acquireSlot(viewerId: number, limit: RouteRateLimit | undefined): Promise<StreamSlotAnswer> {
    if (!limit) return this.slots.acquire(viewerId);
    const counted = await withRouteCount(limit, () => this.slots.acquireCounted(viewerId, limit.counter));
    if (!counted.answer) throw new Error('a blocked count was let through');
    return counted.answer;
  }

  private opened(): void {
    this.metrics.open.inc();
  }

  private closed(slot: StreamSlot): void {
    void slot.release();
    this.metrics.open.dec();
  }
}
