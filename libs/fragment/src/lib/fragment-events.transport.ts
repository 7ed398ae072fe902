import {
  Inject,
  Injectable,
  Logger,
  type INestApplication,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { BaseRpcContext, type CustomTransportStrategy, type MicroserviceOptions, Server } from '@nestjs/microservices';
import { Cluster } from 'ioredis';
import type { FragmentEventSubscriber } from './fragment-events';
import { FRAGMENT_SETTLED_PATTERN } from './fragment-key';
import { FragmentEventMetrics, registerChannelGauge } from './fragment-metrics';
import type { FragmentModuleOptions } from './fragment-options';
import { FRAGMENT_OPTIONS } from './fragment.tokens';
import { connectOrFail, createRedisClient, type RedisClient } from './redis-clients';

/** The packet envelope the store's scripts publish: Nest's `{ pattern, data }`. */
interface EventPacket {
  readonly pattern: string;
  readonly data: unknown;
}

/**
 * A Nest microservice transport for readiness events on sharded pub/sub (`SSUBSCRIBE`, Redis 7):
 * each copy's events travel on its own channel (its key), published by the script that changed it on
 * the shard that holds it. The gateway subscribes only to the copies it watches (`FragmentEvents`
 * asks), so no gateway hears every build, and on a Cluster no event crosses the cluster bus.
 * Messages reach `@EventPattern('fragment.settled')` handlers like any Nest transport's.
 *
 * It keeps the set of channels it was asked for; after any reconnect or failover it subscribes them
 * all again and only then tells `FragmentEvents`, which makes every watcher read its copies again —
 * so an event lost while the connection was down is never lost for good.
 */
@Injectable()
export class FragmentEventsServer
  extends Server
  implements CustomTransportStrategy, FragmentEventSubscriber, OnModuleInit, OnApplicationShutdown
{
  private readonly log = new Logger(FragmentEventsServer.name);
  private readonly metrics = new FragmentEventMetrics();
  private readonly channels = new Set<string>();
  private readonly resubscribed: Array<() => void> = [];
  private client?: RedisClient;
  private listening = false;
  private connectedOnce = false;

  constructor(@Inject(FRAGMENT_OPTIONS) private readonly options: FragmentModuleOptions) {
    super();
    registerChannelGauge(() => this.channels.size);
  }

  async onModuleInit(): Promise<void> {
    const endpoint = this.options.redis.cache;
    const client = createRedisClient(endpoint, `${this.options.connectionName ?? 'gateway'}:events`, 'subscriber');
    client.on('smessage', (channel: string, message: string) => this.received(channel, message));
    // A single Redis emits `ready` on every (re)connect; a Cluster, `subscribersReady` after it moved
    // its sharded subscribers to the current masters.
    client.on(client instanceof Cluster ? 'subscribersReady' : 'ready', () => void this.reconnected());
    await connectOrFail(client, endpoint, 10_000);
    this.client = client;
    this.connectedOnce = true;
  }

  listen(callback: () => void): void {
    this.listening = true;
    callback();
  }

  async close(): Promise<void> {
    this.listening = false;
  }

  async onApplicationShutdown(): Promise<void> {
    this.listening = false;
    this.client?.disconnect();
  }

  on(): never {
    throw new Error('FragmentEventsServer does not emit transport events');
  }

  unwrap<T>(): T {
    return this.client as T;
  }

  /**
   * Nest first tries `JSON.parse` on every incoming pattern (object patterns travel serialised); ours
   * is a plain string, so each event paid for a thrown SyntaxError (4 µs hot, about 18 µs per event
   * in a gateway profile of sparse streams). The route of a string pattern is the string itself.
   */
  protected override getRouteFromPattern(pattern: string): string {
    return pattern === FRAGMENT_SETTLED_PATTERN ? pattern : super.getRouteFromPattern(pattern);
  }

  async subscribe(channel: string): Promise<void> {
    this.channels.add(channel);
    await this.requireClient().ssubscribe(channel);
  }

  async unsubscribe(channel: string): Promise<void> {
    this.channels.delete(channel);
    await this.requireClient().sunsubscribe(channel);
  }

  onResubscribed(callback: () => void): void {
    this.resubscribed.push(callback);
  }

  /** How many channels this gateway is subscribed to (what it watches). */
  subscriptionCount(): number {
    return this.channels.size;
  }

  private requireClient(): RedisClient {
    if (!this.client) throw new Error('the event transport is not connected yet');
    return this.client;
  }

  private received(channel: string, message: string): void {
    this.metrics.received.inc();
    if (!this.listening || !this.channels.has(channel)) return;
    let packet: EventPacket;
    try {
      packet = JSON.parse(message) as EventPacket;
    } catch {
      return;
    }
    if (packet?.pattern !== FRAGMENT_SETTLED_PATTERN) return;
    void this.handleEvent(packet.pattern, packet, new BaseRpcContext([channel])).catch((error: Error) =>
      this.log.error(`event handler failed: ${error.message}`),
    );
  }

  private async reconnected(): Promise<void> {
    if (!this.connectedOnce || !this.client) return;
    const channels = [...this.channels];
    try {
      // Our own subscribe, awaited, after the client's automatic one: once it is confirmed, a read
      // sees everything an event would have said.
      await Promise.all(channels.map((channel) => this.client?.ssubscribe(channel)));
    } catch (error) {
      this.log.warn(`resubscribing ${channels.length} channel(s) failed: ${(error as Error).message}`);
    }
    this.log.log(`event transport reconnected: ${channels.length} watched copies read again`);
    for (const callback of this.resubscribed) callback();
  }
}

/**
 * Makes the gateway a hybrid app that also receives readiness events. Call before `listen()`;
 * `startAllMicroservices()` (or `listen()`) starts delivering them.
 */
export function connectFragmentEvents(app: INestApplication): void {
  app.connectMicroservice<MicroserviceOptions>({ strategy: app.get(FragmentEventsServer) }, { inheritAppConfig: true });
}
