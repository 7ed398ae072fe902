import type { SchemaObject } from '@nestjs/swagger';
import { z } from 'zod';

/**
 * The OpenAPI 3.0 schema of a zod schema (zod's JSON Schema output), for `@ApiBody({ schema })` and
 * friends: the document then says exactly what the validation accepts. `input` for what a request
 * may send (before transforms and defaults), `output` for what an answer holds.
 */
export function openApiSchemaOf(schema: z.ZodType, io: 'input' | 'output'): SchemaObject {
  const { $schema: _dialect, ...json } = z.toJSONSchema(schema, { target: 'openapi-3.0', io });
  return json as SchemaObject;
}
