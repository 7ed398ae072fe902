import { createSecretKey, type KeyObject } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { AUTH_OPTIONS, type AuthModuleOptions } from './auth-options';

const ALGORITHM = 'HS256';
/** Audience of stream tickets: they open an event stream and nothing else. */
const TICKET_AUDIENCE = 'fragment-stream';
export const TICKET_TTL_SECONDS = 60;
const CACHE_LIMIT = 10_000;
const SUB = /^[1-9][0-9]{0,9}$/;

export class InvalidTokenError extends Error {}

/** Who a credential authenticates, and until when. */
export interface ViewerSession {
  readonly viewerId: number;
  /** When the API token behind it expires (for a ticket: the token it was traded from). */
  readonly expiresAtMs: number;
}

/**
 * Issues and verifies viewer tokens: HS256 only (the algorithm is pinned, so a token cannot pick
 * `none` or an asymmetric key), `exp` required, `sub` a positive integer user id.
 * Verified tokens are remembered until they expire, so the hot path pays for HMAC once per token.
 */
@Injectable()
export class ViewerTokens {
  private readonly verified = new Map<string, { session: ViewerSession; validUntilMs: number }>();
  /**
   * The secret as a key, made once: given a string, jsonwebtoken first tries it as a PEM public or
   * private key and builds a secret key from it only after that throws, about 0.45 ms of CPU per
   * token signed or verified against 0.01 ms with the key (every cold viewer's first request).
   */
  private readonly key: KeyObject;

  constructor(
    private readonly jwt: JwtService,
    @Inject(AUTH_OPTIONS) private readonly options: AuthModuleOptions,
  ) {
    this.key = createSecretKey(Buffer.from(options.secret));
  }

  /** @nestjs/jwt passes the secret to jsonwebtoken as given; its option types predate KeyObject. */
  private get secret(): string {
    return this.key as unknown as string;
  }

  issue(viewerId: number, ttlSeconds = this.options.ttlSeconds): { token: string; expiresIn: number } {
    const token = this.jwt.sign(
      {},
      { subject: String(viewerId), expiresIn: ttlSeconds, algorithm: ALGORITHM, secret: this.secret },
    );
    return { token, expiresIn: ttlSeconds };
  }

  /**
   * A short-lived ticket for `EventSource`, which cannot send an Authorization header: it goes in
   * the stream's URL, so it must be worthless elsewhere (its own audience) and soon (a minute).
   */
  issueTicket(viewerId: number, sessionExpiresAtMs: number): { ticket: string; expiresIn: number } {
    const ticket = this.jwt.sign(
      // The session's end travels with the ticket: a stream opened with it ends when the token would.
      { sx: Math.floor(sessionExpiresAtMs / 1000) },
      {
        subject: String(viewerId),
        audience: TICKET_AUDIENCE,
        expiresIn: TICKET_TTL_SECONDS,
        algorithm: ALGORITHM,
        secret: this.secret,
      },
    );
    return { ticket, expiresIn: TICKET_TTL_SECONDS };
  }

  /** The viewer id of a valid stream ticket. */
  verifyTicket(ticket: string): number {
    return this.ticketSession(ticket).viewerId;
  }

  /** A valid stream ticket's viewer and the end of the session it was issued for. */
  ticketSession(ticket: string): ViewerSession {
    return this.verifyWith(ticket, TICKET_AUDIENCE);
  }

  /** The viewer id of a valid API token; throws `InvalidTokenError` saying why not. */
  verify(token: string): number {
    return this.session(token).viewerId;
  }

  /** A valid API token's viewer and expiry. */
  session(token: string): ViewerSession {
    return this.verifyWith(token, undefined);
  }

  private verifyWith(token: string, audience: string | undefined): ViewerSession {
    const cacheKey = audience ? `${audience}:${token}` : token;
    const cached = this.verified.get(cacheKey);
    if (cached) {
      if (cached.validUntilMs > Date.now()) return cached.session;
      this.verified.delete(cacheKey);
    }
    let payload: { sub?: unknown; exp?: unknown; aud?: unknown; sx?: unknown };
    try {
      payload = this.jwt.verify(token, { algorithms: [ALGORITHM], secret: this.secret, audience });
    } catch (error) {
      throw new InvalidTokenError((error as Error).message);
    }
    // A ticket (it has an audience) is no API token, and an API token is no ticket.
    if (!audience && payload.aud !== undefined) throw new InvalidTokenError('a stream ticket is not an API token');
    if (typeof payload.exp !== 'number') throw new InvalidTokenError('token has no expiry');
    if (typeof payload.sub !== 'string' || !SUB.test(payload.sub) || Number(payload.sub) > 2_147_483_647) {
      throw new InvalidTokenError('token subject is not a user id');
    }
    const viewerId = Number(payload.sub);
    const session = {
      viewerId,
      expiresAtMs: audience && typeof payload.sx === 'number' ? payload.sx * 1000 : payload.exp * 1000,
    };
    if (this.verified.size >= CACHE_LIMIT) this.verified.clear();
    this.verified.set(cacheKey, { session, validUntilMs: payload.exp * 1000 });
    return session;
  }
}
