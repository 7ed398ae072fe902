import type { LoggerService } from '@nestjs/common';
import { type Level, type Logger, pino, stdTimeFunctions } from 'pino';

/**
 * JSON lines for the moments before the app's own logger exists: Nest's buffered start-up lines and,
 * above all, the error when start-up fails (bad config, say). Same shape as the app's lines, with
 * `service`, so a failed start reads like the rest of the log. No redaction is needed: nothing from a
 * request passes through here.
 */
export class StartupLogger implements LoggerService {
  private readonly logger: Logger;

  constructor(service: string | undefined, destination: NodeJS.WritableStream = process.stdout) {
    this.logger = pino(
      {
        base: { ...(service === undefined ? {} : { service }), pid: process.pid },
        timestamp: stdTimeFunctions.isoTime,
        formatters: { level: (label) => ({ level: label }) },
      },
      destination,
    );
  }

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  // Nest passes (message, ...extras, context): the context is last, a stack trace may precede it.
  private write(level: Level, message: unknown, params: unknown[]): void {
    const context = typeof params.at(-1) === 'string' ? params.at(-1) : undefined;
    const fields: Record<string, unknown> = context === undefined ? {} : { context };
    if (message instanceof Error) {
      this.logger[level]({ ...fields, err: message }, message.message);
    } else if (typeof message === 'object' && message !== null) {
      this.logger[level]({ ...fields, ...message });
    } else {
      const stack = params.length > 1 && typeof params[0] === 'string' ? params[0] : undefined;
      this.logger[level](stack === undefined ? fields : { ...fields, stack }, String(message));
    }
  }
}
