import {
  type ArgumentsHost,
  BadRequestException,
  Catch,
  type ExceptionFilter,
  ServiceUnavailableException,
} from '@nestjs/common';
import { FragmentParamsError, FragmentStoreUnavailableError } from '@worker-pattern/fragment';
import type { FastifyReply } from 'fastify';
import { sendJson } from './fragment-http';

/** Engine errors in the HTTP shape Nest uses for its own: invalid params 400, Redis down 503. */
@Catch(FragmentParamsError, FragmentStoreUnavailableError)
export class FragmentErrorsFilter implements ExceptionFilter {
  catch(error: FragmentParamsError | FragmentStoreUnavailableError, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    // Same body shape as Nest's own HttpExceptions, so every 4xx/5xx of the API looks alike.
    if (error instanceof FragmentParamsError) {
      sendJson(reply, 400, JSON.stringify(new BadRequestException(error.message).getResponse()));
      return;
    }
    const unavailable = new ServiceUnavailableException('fragment store unavailable, retry shortly');
    sendJson(reply, 503, JSON.stringify(unavailable.getResponse()), 1000);
  }
}
