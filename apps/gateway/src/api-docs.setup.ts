import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { type AdminCredentials, adminBasicAuthHook } from '@worker-pattern/auth';
import { PAGES_OPENAPI_SCHEMAS } from '@worker-pattern/pages';
import { API_ERROR_SCHEMAS } from '@worker-pattern/platform';

export const API_DOCS_PATH = '/api/docs';
export const API_DOCS_JSON_PATH = '/api/docs-json';

export interface ApiDocsOptions {
  readonly enabled: boolean;
  /** In production the docs are an admin surface: behind the credentials, or off without them. */
  readonly production: boolean;
  readonly credentials: AdminCredentials | null;
}

/** Whether docs are served, and whether they need the admin credentials. */
export function apiDocsAccess({ enabled, production, credentials }: ApiDocsOptions): 'off' | 'public' | 'admin' {
  if (!enabled) return 'off';
  if (!production) return 'public';
  return credentials ? 'admin' : 'off';
}

// Probes and scrapes are part of the HTTP contract too, but the platform's controllers carry no
// OpenAPI metadata of their own (the workers serve no docs): described here.
const OPERATIONS: Record<string, { summary: string; description: string }> = {
  '/health/live': { summary: 'Liveness', description: 'Checks nothing external: 200 while the process runs.' },
  '/health/ready': { summary: 'Readiness', description: '200 when Redis answers, 503 otherwise.' },
  '/metrics': { summary: 'Prometheus metrics', description: 'Text exposition format.' },
};

export function buildApiDocument(app: NestFastifyApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('worker-pattern gateway')
    .setDescription(
      'The HTTP contract of the gateway. Every /api route except dev login needs `Authorization: Bearer <token>`; the token’s subject is the viewer. ' +
        'Errors are `{"statusCode", "error", "message"}`. Every /api route is rate-limited per viewer (429 with Retry-After).',
    )
    .setVersion('1')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
    .addApiKey(
      {
        type: 'apiKey',
        in: 'query',
        name: 'ticket',
        description: 'One-minute stream ticket (POST /api/auth/stream-ticket)',
      },
      'streamTicket',
    )
    .build();
  const document = SwaggerModule.createDocument(app, config, {
    operationIdFactory: (controller, method) => `${controller.replace(/Controller$/, '')}_${method}`,
  });
  document.components = {
    ...document.components,
    schemas: { ...document.components?.schemas, ...API_ERROR_SCHEMAS, ...PAGES_OPENAPI_SCHEMAS },
  };
  for (const [path, operation] of Object.entries(OPERATIONS)) {
    const get = document.paths[path]?.get;
    if (get) Object.assign(get, { ...operation, tags: ['operations'] });
  }
  return document;
}

/**
 * Swagger UI at /api/docs and the document at /api/docs-json (and -yaml). Served by
 * `@nestjs/swagger` as plain Fastify routes, so in production an onRequest hook guards every
 * route whose matched pattern is under /api/docs (UI, its static files and both documents).
 */
export function setupApiDocs(app: NestFastifyApplication, options: ApiDocsOptions): 'off' | 'public' | 'admin' {
  const access = apiDocsAccess(options);
  if (access === 'off') return access;
  if (access === 'admin' && options.credentials) {
    const guard = adminBasicAuthHook(options.credentials);
    app
      .getHttpAdapter()
      .getInstance()
      .addHook('onRequest', async (request, reply) =>
        request.routeOptions.url?.startsWith(API_DOCS_PATH) ? guard(request, reply) : undefined,
      );
  }
  SwaggerModule.setup(API_DOCS_PATH, app, () => buildApiDocument(app), {
    jsonDocumentUrl: API_DOCS_JSON_PATH,
    customSiteTitle: 'worker-pattern gateway API',
    // The validator badge would load an image from validator.swagger.io, which CSP refuses.
    swaggerOptions: { validatorUrl: null },
  });
  return access;
}
