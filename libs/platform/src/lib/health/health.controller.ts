import { Controller, Get, Inject } from '@nestjs/common';
import {
  HealthCheck,
  type HealthCheckResult,
  HealthCheckService,
  type HealthIndicatorFunction,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import { PLATFORM_READINESS, type ResolvedReadiness } from '../platform.options';
import { RedisHealthIndicator } from './redis.health';

/**
 * Probes for the orchestrator. Liveness answers from the event loop alone: restarting a pod because
 * Redis is down would not bring Redis back. Readiness checks what this app cannot serve without, and
 * answers 503 (terminus' body) when any of it is down, so traffic goes elsewhere meanwhile.
 */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly redis: RedisHealthIndicator,
    private readonly typeorm: TypeOrmHealthIndicator,
    @Inject(PLATFORM_READINESS) private readonly readiness: ResolvedReadiness,
  ) {}

  @Get('live')
  @HealthCheck()
  live(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  @Get('ready')
  @HealthCheck()
  ready(): Promise<HealthCheckResult> {
    const { redis, postgres, timeoutMs } = this.readiness;
    const checks: HealthIndicatorFunction[] = [];
    const clients = redis === undefined ? {} : typeof redis === 'object' ? redis : { redis };
    for (const [name, token] of Object.entries(clients)) {
      checks.push(() => this.redis.pingCheck(name, token, timeoutMs));
    }
    if (postgres) checks.push(() => this.typeorm.pingCheck('postgres', { timeout: timeoutMs }));
    return this.health.check(checks);
  }
}
