import { createHash, timingSafeEqual } from 'node:crypto';
import { envString } from '@worker-pattern/platform';
import { z } from 'zod';

/** Admin surfaces (queue dashboard, API docs in production) open to these credentials only. */
export interface AdminCredentials {
  readonly user: string;
  readonly password: string;
}

export const MIN_PRODUCTION_ADMIN_PASSWORD = 16;

export const adminEnvSchema = z.object({
  ADMIN_USER: envString(/^[^:\s]{1,64}$/, 'must be 1 to 64 characters, without ":" or spaces').default('admin'),
  // Unset: the admin surfaces are off (404), so nothing is exposed by a forgotten default.
  ADMIN_PASSWORD: envString(/^[^\r\n]{1,256}$/, 'must be 1 to 256 characters on one line').optional(),
});

export interface AdminEnv {
  readonly NODE_ENV: string;
  readonly ADMIN_USER: string;
  readonly ADMIN_PASSWORD?: string;
}

/** The admin credentials, or null when no password is set (admin surfaces disabled). */
export function adminCredentialsFromEnv(env: AdminEnv): AdminCredentials | null {
  if (env.ADMIN_PASSWORD === undefined) return null;
  if (env.NODE_ENV === 'production' && env.ADMIN_PASSWORD.length < MIN_PRODUCTION_ADMIN_PASSWORD) {
    throw new Error(
      `ADMIN_PASSWORD must be at least ${MIN_PRODUCTION_ADMIN_PASSWORD} characters when NODE_ENV=production`,
    );
  }
  return { user: env.ADMIN_USER, password: env.ADMIN_PASSWORD };
}

// Comparing fixed-length digests: the time taken says nothing about how much of a guess was right,
// nor about the length of the real value.
function sameSecret(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** Whether an `Authorization: Basic …` header carries exactly these credentials. */
export function basicAuthMatches(header: string | undefined, credentials: AdminCredentials): boolean {
  const match = header === undefined ? null : /^Basic ([A-Za-z0-9+/]{1,1024}={0,2})$/i.exec(header.trim());
  if (!match) return false;
  const decoded = Buffer.from(match[1] ?? '', 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return false;
  // Both halves are always compared, so a wrong user takes as long as a wrong password.
  const userOk = sameSecret(decoded.slice(0, colon), credentials.user);
  const passwordOk = sameSecret(decoded.slice(colon + 1), credentials.password);
  return userOk && passwordOk;
}
