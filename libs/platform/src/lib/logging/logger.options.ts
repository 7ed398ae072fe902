import { hostname } from 'node:os';
import type { Params } from 'nestjs-pino';
import { type DestinationStream, stdTimeFunctions } from 'pino';
import type { Options } from 'pino-http';
import type { LogLevel } from '../config/env.schema';

export interface LoggerSettings {
  service: string;
  level: LogLevel;
  /** Where lines go; stdout when absent. Tests pass a stream to read what was logged. */
  stream?: DestinationStream;
}

export const REDACTED = '[Redacted]';

// Pino's redaction takes explicit paths, not "anywhere": cover the fields three levels deep, which is
// as deep as log objects of ours go.
const SECRET_FIELDS = ['token', 'accessToken', 'refreshToken', 'password', 'secret', 'clientSecret', 'ticket'];
// The same names as query parameters: their values are cut out of the logged URL too.
const SECRET_QUERY = new RegExp(`([?&](?:${SECRET_FIELDS.join('|')})=)[^&#]*`, 'gi');

/** `/s?ticket=abc&x=1` → `/s?ticket=[Redacted]&x=1`: credentials in URLs never reach the logs. */
export function redactUrl(url: string): string {
  return url.replace(SECRET_QUERY, `$1${REDACTED}`);
}
const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  ...SECRET_FIELDS.flatMap((field) => [field, `*.${field}`, `*.*.${field}`]),
];

/** The root logger's options (nestjs-pino builds it with pino-http; Nest's Logger and logRequests write to it). */
export function createPinoHttpOptions({ service, level }: Omit<LoggerSettings, 'stream'>): Options {
  return {
    level,
    // Replaces pino's default base: `service` on every line, pid and hostname (the pod) kept.
    base: { service, pid: process.pid, hostname: hostname() },
    timestamp: stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: REDACT_PATHS, censor: REDACTED },
  };
}

export function createLoggerParams(settings: LoggerSettings): Params {
  const options = createPinoHttpOptions(settings);
  return {
    pinoHttp: settings.stream ? [options, settings.stream] : options,
    // No route gets nestjs-pino's middleware (it would run each request inside an AsyncLocalStorage,
    // see request-log.hook.ts): the module still builds the root logger that Nest's Logger writes
    // to, and requests are logged by logRequests.
    forRoutes: [],
  };
}
