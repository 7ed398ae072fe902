import {
  type ArgumentsHost,
  BadRequestException,
  Catch,
  type ExceptionFilter,
  NotFoundException,
  ServiceUnavailableException,
} from '@nestjs/common';
import { DatabaseUnavailableError } from '@worker-pattern/db';
import type { FastifyReply } from 'fastify';
import { WriteNotFoundError, WriteRefusedError } from './social-writes';

/** Domain errors of writes in Nest's HTTP error shape: missing 404, refused 400, no database 503. */
@Catch(WriteNotFoundError, WriteRefusedError, DatabaseUnavailableError)
export class WriteErrorsFilter implements ExceptionFilter {
  catch(error: Error, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const http =
      error instanceof WriteNotFoundError
        ? new NotFoundException(error.message)
        : error instanceof WriteRefusedError
          ? new BadRequestException(error.message)
          : new ServiceUnavailableException('database unavailable, retry shortly');
    if (http instanceof ServiceUnavailableException) void reply.header('retry-after', '2');
    void reply.code(http.getStatus()).header('cache-control', 'no-store').send(http.getResponse());
  }
}
