import { createHmac, KeyObject } from 'node:crypto';
import { JwtService } from '@nestjs/jwt';
import { authOptionsFromEnv } from './auth-env.schema';
import { InvalidTokenError, ViewerTokens } from './viewer-tokens';

const secret = 's'.repeat(40);
const tokens = new ViewerTokens(new JwtService({}), { secret, ttlSeconds: 60, devLogin: true });

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
function sign(payload: object, header: object = { alg: 'HS256', typ: 'JWT' }, key = secret): string {
  const head = `${b64(header)}.${b64(payload)}`;
  return `${head}.${createHmac('sha256', key).update(head).digest('base64url')}`;
}
const inAMinute = () => Math.floor(Date.now() / 1000) + 60;

describe('ViewerTokens', () => {
  it('round-trips a viewer id', () => {
    expect(tokens.verify(tokens.issue(42).token)).toBe(42);
  });

  it('hands jsonwebtoken a secret key, never the string it would first try to parse as a PEM key', () => {
    const jwt = new JwtService({});
    const signs = jest.spyOn(jwt, 'sign');
    const verifies = jest.spyOn(jwt, 'verify');
    const own = new ViewerTokens(jwt, { secret, ttlSeconds: 60, devLogin: true });
    const { token } = own.issue(7);
    own.ticketSession(own.issueTicket(7, Date.now() + 60_000).ticket);
    expect(own.verify(token)).toBe(7);
    expect(own.verify(sign({ sub: '8', exp: inAMinute() }))).toBe(8);
    for (const [, options] of [...signs.mock.calls, ...verifies.mock.calls]) {
      expect((options as { secret?: unknown }).secret).toBeInstanceOf(KeyObject);
    }
    expect(signs).toHaveBeenCalledTimes(2);
    expect(verifies).toHaveBeenCalledTimes(3);
  });

  it.each([
    ['another secret', sign({ sub: '1', exp: inAMinute() }, undefined, 'x'.repeat(40))],
    ['alg none', `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: '1', exp: inAMinute() })}.`],
    ['HS512 (algorithm not pinned)', `${b64({ alg: 'HS512', typ: 'JWT' })}.${b64({ sub: '1', exp: inAMinute() })}.x`],
    ['no expiry', sign({ sub: '1' })],
    ['an expired token', sign({ sub: '1', exp: Math.floor(Date.now() / 1000) - 10 })],
    ['a non-numeric subject', sign({ sub: 'admin', exp: inAMinute() })],
    ['a numeric (not string) subject', sign({ sub: 1, exp: inAMinute() })],
    ['a subject out of range', sign({ sub: '2147483648', exp: inAMinute() })],
    ['a subject with leading zeros', sign({ sub: '007', exp: inAMinute() })],
    ['garbage', 'not.a.token'],
  ])('refuses %s', (_name, token) => {
    expect(() => tokens.verify(token)).toThrow(InvalidTokenError);
  });

  it('keeps stream tickets and API tokens apart', () => {
    const { ticket } = tokens.issueTicket(9, Date.now() + 3_600_000);
    expect(tokens.verifyTicket(ticket)).toBe(9);
    expect(() => tokens.verify(ticket)).toThrow(/not an API token/);
    expect(() => tokens.verifyTicket(tokens.issue(9).token)).toThrow(InvalidTokenError);
  });

  it('carries the session’s end: a token’s expiry, and for a ticket the expiry of the token it came from', () => {
    const { token } = tokens.issue(9, 600);
    const session = tokens.session(token);
    expect(session.viewerId).toBe(9);
    expect(Math.abs(session.expiresAtMs - (Date.now() + 600_000))).toBeLessThan(2000);
    const { ticket } = tokens.issueTicket(9, session.expiresAtMs);
    // The ticket itself lives a minute; the stream it opens may last as long as the token.
    expect(tokens.ticketSession(ticket)).toEqual({
      viewerId: 9,
      expiresAtMs: Math.floor(session.expiresAtMs / 1000) * 1000,
    });
  });

  it('stops accepting a cached token once it expires', async () => {
    const token = sign({ sub: '5', exp: Math.floor(Date.now() / 1000) + 1 });
    expect(tokens.verify(token)).toBe(5);
    await new Promise((r) => setTimeout(r, 1100));
    expect(() => tokens.verify(token)).toThrow(InvalidTokenError);
  });
});

describe('authOptionsFromEnv', () => {
  const env = { NODE_ENV: 'development', JWT_TTL_SECONDS: 3600 };

  it('enables dev login with a development secret outside production', () => {
    expect(authOptionsFromEnv(env)).toMatchObject({ devLogin: true, ttlSeconds: 3600 });
  });

  it('disables dev login in production and requires a secret', () => {
    expect(() => authOptionsFromEnv({ ...env, NODE_ENV: 'production' })).toThrow(/JWT_SECRET is required/);
    expect(authOptionsFromEnv({ ...env, NODE_ENV: 'production', JWT_SECRET: secret })).toMatchObject({
      devLogin: false,
      secret,
    });
  });

  it('refuses dev login forced on in production', () => {
    expect(() => authOptionsFromEnv({ ...env, NODE_ENV: 'production', JWT_SECRET: secret, DEV_LOGIN: 'true' })).toThrow(
      /DEV_LOGIN cannot be enabled when NODE_ENV=production/,
    );
  });
});
