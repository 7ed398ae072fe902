import { Inject, Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { AUTH_OPTIONS, type AuthModuleOptions } from './auth-options';

const ALGORITHM = 'HS256';
const CACHE_LIMIT = 10_000;
const SUB = /^[1-9][0-9]{0,9}$/;

export class InvalidTokenError extends Error {}

/**
 * Issues and verifies viewer tokens: HS256 only (the algorithm is pinned, so a token cannot pick
 * `none` or an asymmetric key), `exp` required, `sub` a positive integer user id.
 * Verified tokens are remembered until they expire, so the hot path pays for HMAC once per token.
 */
@Injectable()
export class ViewerTokens {
  private readonly verified = new Map<string, { viewerId: number; expiresAtMs: number }>();

  constructor(
    private readonly jwt: JwtService,
    @Inject(AUTH_OPTIONS) private readonly options: AuthModuleOptions,
  ) {}

  issue(viewerId: number, ttlSeconds = this.options.ttlSeconds): { token: string; expiresIn: number } {
    const token = this.jwt.sign({}, { subject: String(viewerId), expiresIn: ttlSeconds, algorithm: ALGORITHM, secret: this.options.secret });
    return { token, expiresIn: ttlSeconds };
  }

  /** The viewer id of a valid token; throws `InvalidTokenError` saying why not. */
  verify(token: string): number {
    const cached = this.verified.get(token);
    if (cached) {
      if (cached.expiresAtMs > Date.now()) return cached.viewerId;
      this.verified.delete(token);
    }
    let payload: { sub?: unknown; exp?: unknown };
    try {
      payload = this.jwt.verify(token, { algorithms: [ALGORITHM], secret: this.options.secret });
    } catch (error) {
      throw new InvalidTokenError((error as Error).message);
    }
    if (typeof payload.exp !== 'number') throw new InvalidTokenError('token has no expiry');
    if (typeof payload.sub !== 'string' || !SUB.test(payload.sub) || Number(payload.sub) > 2_147_483_647) {
      throw new InvalidTokenError('token subject is not a user id');
    }
    const viewerId = Number(payload.sub);
    if (this.verified.size >= CACHE_LIMIT) this.verified.clear();
    this.verified.set(token, { viewerId, expiresAtMs: payload.exp * 1000 });
    return viewerId;
  }
}
