import type { IncomingMessage, ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import { RequestMethod } from '@nestjs/common';
import type { Params } from 'nestjs-pino';
import { type DestinationStream, stdTimeFunctions } from 'pino';
import type { Options } from 'pino-http';
import type { LogLevel } from '../config/env.schema';
import { REQUEST_ID_HEADER, isQuietPath, resolveRequestId } from './request-id';

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

/** pino-http options shared by request logs and application logs (nestjs-pino builds both from them). */
export function createPinoHttpOptions({ service, level }: Omit<LoggerSettings, 'stream'>): Options {
  return {
    level,
    // Replaces pino's default base: `service` on every line, pid and hostname (the pod) kept.
    base: { service, pid: process.pid, hostname: hostname() },
    timestamp: stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: REDACT_PATHS, censor: REDACTED },
    serializers: {
      req: (req: { url?: string }) => (typeof req.url === 'string' ? { ...req, url: redactUrl(req.url) } : req),
    },
    // Only used where the server did not set `req.id` itself; createHttpApp's Fastify does.
    genReqId: (req: IncomingMessage, res: ServerResponse) => {
      const id = resolveRequestId(req.headers[REQUEST_ID_HEADER]);
      res.setHeader(REQUEST_ID_HEADER, id);
      return id;
    },
    // Lines logged inside a request carry its id, not a copy of the whole request.
    quietReqLogger: true,
    // Middie rewrites req.url for mounted middleware; the path as requested is kept in originalUrl.
    autoLogging: { ignore: (req: IncomingMessage & { originalUrl?: string }) => isQuietPath(req.originalUrl ?? req.url) },
    customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
  };
}

export function createLoggerParams(settings: LoggerSettings): Params {
  const options = createPinoHttpOptions(settings);
  return {
    pinoHttp: settings.stream ? [options, settings.stream] : options,
    // Nest 11's router syntax for "every path" (nestjs-pino's default '*' is the legacy one).
    forRoutes: [{ path: '{*path}', method: RequestMethod.ALL }],
  };
}
