import { z } from 'zod';
import { parseProxyRange, type ProxyRange } from '../http/trusted-proxies';

/**
 * Field builders for environment variables. Every value arrives as a string (or not at all), so each
 * builder takes a string and says, in one phrase, what a good value looks like: that phrase is what
 * `validateEnv` prints next to the variable's name. Empty strings are treated as unset before parsing.
 */

const REQUIRED = 'is required';

/** One message for every way a present value can be wrong; "is required" when it is missing. */
function problemOr(problem: string) {
  return (issue: { input?: unknown }): string => (issue.input === undefined ? REQUIRED : problem);
}

/**
 * A decimal integer in [min, max]. Strict: digits only, so "12abc", "1e3", "0x10", " 7" and "-1" are
 * rejected rather than half-parsed the way `parseInt` or `Number` would.
 */
export function envInt(min: number, max: number) {
  const problem = `must be an integer between ${min} and ${max}`;
  return z
    .string({ error: problemOr(problem) })
    .regex(/^\d{1,16}$/, { error: problem })
    .transform(Number)
    .pipe(z.number().int().min(min, { error: problem }).max(max, { error: problem }));
}

/** One of a fixed set of values, compared exactly (case-sensitive). */
export function envEnum<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: problemOr(`must be one of ${values.join(', ')}`) });
}

/** A non-empty string, optionally matching a pattern that `problem` describes. */
export function envString(pattern?: RegExp, problem = 'must be a non-empty string') {
  const base = z.string({ error: problemOr(problem) }).min(1, { error: problem });
  return pattern ? base.regex(pattern, { error: problem }) : base;
}

/** A URL whose scheme is one of `schemes` (without "://"); kept as the string the operator gave. */
export function envUrl(schemes: readonly [string, ...string[]]) {
  const problem = `must be a URL starting with ${schemes.map((s) => `${s}://`).join(' or ')}`;
  return z.url({ protocol: new RegExp(`^(${schemes.join('|')})$`), error: problemOr(problem) });
}

/**
 * A comma-separated list of URLs whose scheme is one of `schemes`, e.g. several replicas'
 * connection strings; parsed into a de-duplicated list, in order.
 */
export function envUrlList(schemes: readonly [string, ...string[]]) {
  const problem = `must be a comma-separated list of URLs starting with ${schemes.map((s) => `${s}://`).join(' or ')}`;
  const url = z.url({ protocol: new RegExp(`^(${schemes.join('|')})$`) });
  return z.string({ error: problemOr(problem) }).transform((raw, ctx) => {
    const urls = raw
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry.length > 0);
    if (urls.length === 0 || !urls.every((entry) => url.safeParse(entry).success)) {
      ctx.addIssue({ code: 'custom', message: problem });
      return z.NEVER;
    }
    return [...new Set(urls)];
  });
}

/** "true"/"false" (or "1"/"0"); anything else is an error rather than a silent false. */
export function envBoolean() {
  const problem = 'must be true, false, 1 or 0';
  return z
    .enum(['true', 'false', '1', '0'], { error: problemOr(problem) })
    .transform((value) => value === 'true' || value === '1');
}

function isWebOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    // `origin` is scheme://host[:port] exactly as a browser sends it: a path, a trailing slash,
    // user info, a default port or an upper-case host all make the two differ.
    // WHATWG URLs accept `*` in a host name; a wildcard is exactly what this list must not hold.
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === value && !value.includes('*');
  } catch {
    return false;
  }
}

/**
 * A comma-separated list of web origins as browsers send them in `Origin` (`https://app.example.com`,
 * `http://localhost:5173`): no path, no trailing slash, no wildcard. Parsed into a de-duplicated list.
 */
export function envOriginList() {
  const problem =
    'must be a comma-separated list of origins like https://app.example.com (scheme://host[:port], no path, no "*")';
  return z.string({ error: problemOr(problem) }).transform((raw, ctx) => {
    const origins = raw
      .split(',')
      .map((origin) => origin.trim())
      .filter((origin) => origin.length > 0);
    if (origins.length === 0 || !origins.every(isWebOrigin)) {
      ctx.addIssue({ code: 'custom', message: problem });
      return z.NEVER;
    }
    return [...new Set(origins)];
  });
}

const HOST_PORT = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(\d{1,5})$/;

/**
 * A comma-separated list of `host:port` (seed nodes of a Redis Cluster, Sentinels), parsed into
 * `{ host, port }` objects, de-duplicated, in the order given.
 */
export function envHostPortList() {
  const problem = 'must be a comma-separated list of host:port (like 10.0.0.1:7000,10.0.0.2:7000)';
  return z.string({ error: problemOr(problem) }).transform((raw, ctx) => {
    const entries = [
      ...new Set(
        raw
          .split(',')
          .map((entry) => entry.trim())
          .filter((entry) => entry.length > 0),
      ),
    ];
    const nodes = entries.map((entry) => HOST_PORT.exec(entry));
    if (nodes.length === 0 || !nodes.every((m) => m !== null && Number(m[2]) >= 1 && Number(m[2]) <= 65535)) {
      ctx.addIssue({ code: 'custom', message: problem });
      return z.NEVER;
    }
    return nodes.map((m) => ({
      host: (m as RegExpExecArray)[1].replace(/^\[|\]$/g, ''),
      port: Number((m as RegExpExecArray)[2]),
    }));
  });
}

/** A comma-separated list of IP addresses and CIDR ranges (the proxies in front of an app). */
export function envCidrList() {
  const problem = 'must be a comma-separated list of IP addresses or CIDR ranges (like 10.0.0.0/8,fd00::/8)';
  return z.string({ error: problemOr(problem) }).transform((raw, ctx): ProxyRange[] => {
    const entries = raw
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry.length > 0);
    const ranges = entries.map(parseProxyRange);
    if (entries.length === 0 || ranges.some((range) => range === undefined)) {
      ctx.addIssue({ code: 'custom', message: problem });
      return z.NEVER;
    }
    return ranges as ProxyRange[];
  });
}
