import { type ArgumentsHost, Catch, type ExceptionFilter, HttpStatus } from '@nestjs/common';
import { FragmentParamsError, FragmentStoreUnavailableError } from '@worker-pattern/fragment';
import type { FastifyReply } from 'fastify';
import { sendJson } from './fragment-http';

/** Engine errors in the HTTP shape Nest uses for its own: invalid params 400, Redis down 503. */
@Catch(FragmentParamsError, FragmentStoreUnavailableError)
export class FragmentErrorsFilter implements ExceptionFilter {
  catch(error: FragmentParamsError | FragmentStoreUnavailableError, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    if (error instanceof FragmentParamsError) {
      sendJson(reply, HttpStatus.BAD_REQUEST, JSON.stringify({ statusCode: 400, error: 'Bad Request', message: error.message }));
      return;
    }
    const body = { statusCode: 503, error: 'Service Unavailable', message: 'fragment store unavailable, retry shortly' };
    sendJson(reply, HttpStatus.SERVICE_UNAVAILABLE, JSON.stringify(body), 1000);
  }
}
