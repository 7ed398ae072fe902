import { applyDecorators } from '@nestjs/common';
import { ApiResponse, type SchemaObject } from '@nestjs/swagger';

/**
 * OpenAPI for the one error shape every answer of ours shares (Nest's own):
 * `{"statusCode", "error", "message"}`. The schema is a named component, `ApiError`; an app that
 * serves docs adds `API_ERROR_SCHEMAS` to its document's components.
 */
export const API_ERROR_SCHEMAS: Record<string, SchemaObject> = {
  ApiError: {
    type: 'object',
    required: ['statusCode', 'message'],
    properties: {
      statusCode: { type: 'integer', example: 400 },
      error: { type: 'string', example: 'Bad Request' },
      message: {
        type: 'string',
        description: 'What is wrong, naming the parameter or field',
        example: 'invalid parameter "userId": must be a positive integer (1 to 2147483647)',
      },
    },
  },
};

const RETRY_AFTER = {
  'Retry-After': { description: 'Seconds to wait before trying again', schema: { type: 'integer', minimum: 1 } },
};

const ERRORS: Record<number, { description: string; retryAfter?: boolean }> = {
  400: { description: 'Invalid input; the message names the parameter or field' },
  401: { description: 'Missing, malformed, expired or forged token' },
  404: { description: 'Not found (the message says what)' },
  409: { description: 'Conflict with the current state' },
  413: { description: 'Request body larger than 64 KiB' },
  429: { description: 'Rate limit exceeded (or too many open streams)', retryAfter: true },
  502: { description: 'The fragment’s build failed behind the gateway', retryAfter: true },
  503: { description: 'A dependency (Redis, or Postgres for writes) is unavailable', retryAfter: true },
};

export type ApiErrorStatus = 400 | 401 | 404 | 409 | 413 | 429 | 502 | 503;

/** Documents the error answers a route can give, each with the `ApiError` schema. */
export function ApiErrorResponses(...statuses: ApiErrorStatus[]): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ...statuses.map((status) => {
      const { description, retryAfter } = ERRORS[status] ?? { description: 'Error' };
      return ApiResponse({
        status,
        description,
        schema: { $ref: '#/components/schemas/ApiError' },
        headers: retryAfter ? RETRY_AFTER : undefined,
      });
    }),
  );
}
