// How the apps' log lines are shown. The apps always write pino JSON lines (what a log collector
// wants); on a terminal the launcher shows them through pino-pretty instead: one readable line
// per entry, with the fields the [app] prefix already says (service, pid, hostname) left out,
// and without Nest's start-up inventory of modules and routes (some 40 lines per app and start,
// which drown what matters; --logs json shows them).

/** Nest's start-up inventory: one info line per module and per route. */
export const NEST_WIRING_CONTEXTS = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer']);

/** Is this record a line nobody reads on a terminal? */
export function isStartupInventory(record) {
  return record.level === 'info' && NEST_WIRING_CONTEXTS.has(record.context);
}

/**
 * A pino JSON line's record, reshaped for reading: the Nest context and request lines folded
 * into the message, an error's stack apart. Returns undefined for anything that is not a pino
 * record (it is shown as is).
 * @returns {{ record: object, stack?: string, skip: boolean } | undefined} `skip` for the
 *   start-up inventory
 */
export function toReadableRecord(line) {
  if (!line.startsWith('{')) return undefined;
  let record;
  try {
    record = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (record === null || typeof record !== 'object' || Array.isArray(record) || !('level' in record)) return undefined;
  const { context, req, res, responseTime, msg, ...rest } = record;
  // The [app] prefix already says which process wrote the line.
  delete rest.service;
  delete rest.pid;
  delete rest.hostname;
  let message = typeof msg === 'string' ? msg : msg === undefined ? '' : JSON.stringify(msg);
  if (req && typeof req === 'object' && res && typeof res === 'object') {
    // One request line: "GET /api/pages/dashboard 200 1.4 ms", like an access log.
    message = `${req.method} ${req.url} ${res.statusCode}${responseTime === undefined ? '' : ` ${responseTime} ms`}`;
    rest.reqId ??= req.id;
  } else if (req !== undefined || res !== undefined) {
    Object.assign(rest, req === undefined ? {} : { req }, res === undefined ? {} : { res });
    if (responseTime !== undefined) rest.responseTime = responseTime;
  }
  if (typeof context === 'string' && context) message = `(${context}) ${message}`;
  // An error's stack goes on lines of its own under the entry, not into a JSON blob.
  let stack;
  if (rest.err && typeof rest.err === 'object' && typeof rest.err.stack === 'string') {
    stack = rest.err.stack;
    delete rest.err;
  }
  return { record: { ...rest, msg: message }, stack, skip: isStartupInventory(record) };
}

/**
 * @param {{ format: 'pretty' | 'json', colorize: boolean }} opts
 * @returns {Promise<(line: string) => string | undefined>} maps one line of a child's output to
 *   the text to show (several lines for an error with a stack), or undefined to leave it out
 */
export async function createLogFormatter({ format, colorize }) {
  if (format === 'json') return (line) => line;
  const pinoPretty = await import('pino-pretty');
  const prettyFactory = pinoPretty.prettyFactory ?? pinoPretty.default.prettyFactory;
  const pretty = prettyFactory({
    colorize,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname',
  });
  return (line) => {
    const readable = toReadableRecord(line);
    if (!readable) return line;
    if (readable.skip) return undefined;
    try {
      const text = pretty(readable.record).replace(/\s+$/, '');
      return readable.stack ? `${text}\n${readable.stack.replace(/^/gm, '    ')}` : text;
    } catch {
      return line;
    }
  };
}
