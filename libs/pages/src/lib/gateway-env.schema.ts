import { adminEnvSchema, authEnvSchema, rateLimitEnvSchema } from '@worker-pattern/auth';
import { baseEnvSchema, corsEnvSchema, databaseEnvSchema, envBoolean, envInt } from '@worker-pattern/platform';
import { z } from 'zod';

/** Everything the gateway reads from its environment, validated once at start. */
export const gatewayEnvSchema = baseEnvSchema
  .extend(databaseEnvSchema.shape)
  .extend(authEnvSchema.shape)
  .extend(corsEnvSchema.shape)
  .extend(rateLimitEnvSchema.shape)
  .extend(adminEnvSchema.shape)
  .extend({
    // OpenAPI at /api/docs: public outside production, behind the admin credentials in production.
    API_DOCS: envBoolean().default(true),
    // Memory (MiB) for fresh copies the gateway keeps, dropped when Redis says they changed (0: off).
    NEAR_CACHE_MAX_MB: envInt(0, 65_536).default(32),
  });

export type GatewayEnv = z.output<typeof gatewayEnvSchema>;
