import { z } from 'zod';

const DEV_SECRET = 'dev-only-secret-change-me-0123456789abcdef';

/**
 * Gateway auth settings. Production must bring its own secret and can never enable dev login;
 * development gets a fixed secret and dev login so `npm start` works out of the box.
 */
export const authEnvSchema = z.object({
  JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  JWT_TTL_SECONDS: z
    .string()
    .regex(/^[1-9][0-9]*$/, 'must be a positive integer')
    .transform(Number)
    .pipe(z.number().max(30 * 24 * 3600, 'must be at most 30 days'))
    .default(3600),
  DEV_LOGIN: z.enum(['true', 'false'], { error: 'must be "true" or "false"' }).optional(),
});

export interface AuthEnv {
  readonly NODE_ENV: string;
  readonly JWT_SECRET?: string;
  readonly JWT_TTL_SECONDS: number;
  readonly DEV_LOGIN?: 'true' | 'false';
}

/** Turns validated env into auth options, refusing unsafe production settings. */
export function authOptionsFromEnv(env: AuthEnv): { secret: string; ttlSeconds: number; devLogin: boolean } {
  const production = env.NODE_ENV === 'production';
  if (production && !env.JWT_SECRET) throw new Error('JWT_SECRET is required when NODE_ENV=production');
  if (production && env.DEV_LOGIN === 'true') throw new Error('DEV_LOGIN cannot be enabled when NODE_ENV=production');
  return {
    secret: env.JWT_SECRET ?? DEV_SECRET,
    ttlSeconds: env.JWT_TTL_SECONDS,
    devLogin: env.DEV_LOGIN ? env.DEV_LOGIN === 'true' : !production,
  };
}
