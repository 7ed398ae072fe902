import { createHmac } from 'node:crypto';

/**
 * Viewer tokens as the gateway issues them (HS256, `sub` = user id, `exp`), signed here with the
 * secret the bench gives the gateway: thousands of viewers without thousands of dev-login calls,
 * and the gateway runs with NODE_ENV=production (dev login off) like a real deployment.
 */
export function signViewerToken(secret: string, viewerId: number, ttlSeconds = 6 * 3600): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const unsigned = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode({ sub: String(viewerId), iat: now, exp: now + ttlSeconds })}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}
