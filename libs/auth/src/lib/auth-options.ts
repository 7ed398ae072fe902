export interface AuthModuleOptions {
  /** HMAC secret of the HS256 tokens; at least 32 characters. */
  readonly secret: string;
  readonly ttlSeconds: number;
  /** `POST /api/auth/dev-login` hands out tokens for any user id: never in production. */
  readonly devLogin: boolean;
}

export const AUTH_OPTIONS = Symbol('AUTH_OPTIONS');
