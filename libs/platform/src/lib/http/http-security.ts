import helmet, { type FastifyHelmetOptions } from '@fastify/helmet';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import Fastify from 'fastify';

/**
 * What an app that browsers talk to (the gateway) adds to its HTTP surface: security headers on
 * every response and, only for origins an operator listed, CORS. Workers serve probes and metrics
 * only and take none of this.
 */
export interface HttpSecurityOptions {
  /**
   * Origins (`https://app.example.com`) whose pages may call this app from a browser. Empty: CORS
   * stays closed, i.e. no `Access-Control-Allow-Origin` on any response and no preflight route.
   */
  readonly corsOrigins: readonly string[];
  /**
   * Where the app answers JSON only (e.g. `/api/`): responses there carry the headers a JSON API
   * needs (`jsonApiHeaders`) instead of helmet's document set, except under the `documents` paths
   * (an HTML docs UI). Absent: every response gets the document set.
   */
  readonly jsonApi?: { readonly prefix: string; readonly documents?: readonly string[] };
}

/**
 * The Content-Security-Policy for every response that does not set its own. Helmet's defaults,
 * tightened (no framing, no plugins, no `<base>`), and loose only where the bundled admin UIs need
 * it: swagger-ui and bull-board style elements inline and bull-board loads its web font from
 * Google. No inline script is allowed anywhere. The demo page sends a stricter policy of its own,
 * which replaces this one. `upgrade-insecure-requests` is left out: TLS ends at the ingress, and
 * in development the gateway is plain HTTP on 127.0.0.1, where upgraded asset URLs would fail.
 */
export const DEFAULT_CSP_DIRECTIVES = {
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  'style-src': ["'self'", "'unsafe-inline'", 'https://fonts.googleapis.com'],
  'font-src': ["'self'", 'data:', 'https://fonts.gstatic.com'],
  'img-src': ["'self'", 'data:'],
  'connect-src': ["'self'"],
  'object-src': ["'none'"],
  'base-uri': ["'self'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
  'upgrade-insecure-requests': null,
} as const;

/** Headers a browser may send cross-origin, and the ones it may read back (retry hints, request ids). */
const CORS_ALLOWED_HEADERS = ['authorization', 'content-type', 'x-request-id'];
const CORS_EXPOSED_HEADERS = [
  'retry-after',
  'x-request-id',
  'x-ratelimit-limit',
  'x-ratelimit-remaining',
  'x-ratelimit-reset',
];

const HELMET_OPTIONS: FastifyHelmetOptions = {
  contentSecurityPolicy: { useDefaults: false, directives: DEFAULT_CSP_DIRECTIVES },
  // Frames are refused by CSP already; X-Frame-Options says the same to browsers without CSP 2.
  frameguard: { action: 'deny' },
  // HSTS only means something over TLS; browsers ignore it on plain HTTP, so it is safe to send.
  strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: true },
};

/** Set by the server on each answer, never by helmet: not part of the fixed set. */
const PER_RESPONSE = new Set(['content-type', 'content-length', 'date', 'connection', 'keep-alive']);

/**
 * The headers helmet sends with these options, computed once by helmet itself on a throwaway
 * Fastify. They are the same on every response (no nonces), and setting them as they
 * are costs a fraction of helmet's eleven middlewares per request, which rebuild them
 * each time: 6,000 → 7,300 warm pages/s in bench/ (scenario 2).
 */
export async function helmetHeaders(options: FastifyHelmetOptions = HELMET_OPTIONS): Promise<Record<string, string>> {
  const probe = Fastify();
  try {
    await probe.register(helmet, options);
    probe.get('/', async () => '');
    const response = await probe.inject({ method: 'GET', url: '/' });
    return Object.fromEntries(
      Object.entries(response.headers)
        .filter(([name]) => !PER_RESPONSE.has(name))
        .map(([name, value]) => [name, String(value)]),
    );
  } finally {
    await probe.close();
  }
}

/**
 * What a JSON response needs of helmet's set (OWASP's REST cheat sheet): no MIME sniffing, HTTPS
 * only, not readable cross-origin by a no-cors request (CORP), never framed, and a CSP that allows
 * nothing should a browser render it anyway. The rest of helmet's set (referrer, opener, DNS
 * prefetch, download and cross-domain policies, origin-agent-cluster) governs documents only.
 */
export const JSON_API_HEADER_NAMES = [
  'strict-transport-security',
  'x-content-type-options',
  'x-frame-options',
  'cross-origin-resource-policy',
] as const;
export const JSON_API_CSP = "default-src 'none'; frame-ancestors 'none'";

/** The JSON API's headers, taken from the document set computed by helmet. */
export function jsonApiHeaders(documentHeaders: Record<string, string>): Record<string, string> {
  const headers: Record<string, string> = { 'content-security-policy': JSON_API_CSP };
  for (const name of JSON_API_HEADER_NAMES) {
    const value = documentHeaders[name];
    if (value === undefined) throw new Error(`helmet no longer sends ${name}: review JSON_API_HEADER_NAMES`);
    headers[name] = value;
  }
  return headers;
}

/** Whether `url` (path and query) is under the JSON API and none of its document paths. */
export function isJsonApiUrl(url: string, jsonApi: NonNullable<HttpSecurityOptions['jsonApi']>): boolean {
  if (!url.startsWith(jsonApi.prefix)) return false;
  const query = url.indexOf('?');
  const path = query === -1 ? url : url.slice(0, query);
  return !(jsonApi.documents ?? []).some((doc) => path === doc || path.startsWith(`${doc}/`));
}

/** Adds helmet's headers to every response (and CORS when origins are listed). Call before `init()`/`listen()`. */
export async function applyHttpSecurity(app: NestFastifyApplication, options: HttpSecurityOptions): Promise<void> {
  const headers = await helmetHeaders();
  const documentEntries = Object.entries(headers);
  const apiEntries = Object.entries(jsonApiHeaders(headers));
  const jsonApi = options.jsonApi;
  // onRequest and on the raw response, as helmet does: errors, 404s, probes and hijacked replies
  // (event streams write their own head) get them too, and a route may still replace one with
  // reply.header (the demo page sends its own, stricter CSP).
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRequest', (request, reply, done) => {
      const entries = jsonApi && isJsonApiUrl(request.url, jsonApi) ? apiEntries : documentEntries;
      for (const [name, value] of entries) reply.raw.setHeader(name, value);
      done();
    });
  if (options.corsOrigins.length > 0) {
    app.enableCors({
      // An exact list: a request from any other origin gets no CORS headers, so the browser blocks it.
      origin: [...options.corsOrigins],
      // Bearer tokens, not cookies: credentials mode would widen what a listed origin can do.
      credentials: false,
      methods: ['GET', 'POST', 'DELETE'],
      allowedHeaders: CORS_ALLOWED_HEADERS,
      exposedHeaders: CORS_EXPOSED_HEADERS,
      maxAge: 600,
    });
  }
}
