import { Injectable, type InjectionToken } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { type HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';

/** The one thing readiness needs from a Redis client (ioredis' Redis and Cluster both have it). */
export interface PingableRedis {
  ping(): Promise<string>;
}

function isPingable(value: unknown): value is PingableRedis {
  return typeof value === 'object' && value !== null && typeof (value as Partial<PingableRedis>).ping === 'function';
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Readiness of the app's own Redis client. The client is looked up when first checked, not injected,
 * so the platform needs no import of the module that provides it. The ping is raced against a timer:
 * with ioredis' offline queue a PING to a dead Redis waits for a reconnect that may never come, and a
 * probe that hangs is worse than one that says "down".
 */
@Injectable()
export class RedisHealthIndicator {
  private readonly clients = new Map<InjectionToken, PingableRedis>();

  constructor(
    private readonly moduleRef: ModuleRef,
    private readonly health: HealthIndicatorService,
  ) {}

  async pingCheck<const Key extends string>(
    key: Key,
    token: InjectionToken,
    timeoutMs: number,
  ): Promise<HealthIndicatorResult<Key>> {
    const indicator = this.health.check(key);
    let client: PingableRedis;
    try {
      client = this.resolve(token);
    } catch (error) {
      return indicator.down({ message: errorMessage(error) });
    }

    let timer: NodeJS.Timeout | undefined;
    const ping = client.ping();
    // The ping may settle after we gave up on it; that late rejection is expected, not unhandled.
    ping.catch(() => undefined);
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no PING reply within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([ping, timeout]);
      return indicator.up();
    } catch (error) {
      return indicator.down({ message: errorMessage(error) });
    } finally {
      clearTimeout(timer);
    }
  }

  private resolve(token: InjectionToken): PingableRedis {
    const cached = this.clients.get(token);
    if (cached) return cached;
    const client: unknown = this.moduleRef.get(token, { strict: false });
    if (!isPingable(client)) throw new Error(`provider ${String(token)} is not a Redis client`);
    this.clients.set(token, client);
    return client;
  }
}
