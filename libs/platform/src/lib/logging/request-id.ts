import { randomUUID } from 'node:crypto';

export const REQUEST_ID_HEADER = 'x-request-id';

// What we accept from a client or a proxy: enough for UUIDs and trace ids, nothing that could forge a
// log line or a header.
const ACCEPTED = /^[A-Za-z0-9._:-]{1,128}$/;

/** The caller's request id when it is a sane one, otherwise a fresh UUID. */
export function resolveRequestId(header: string | string[] | undefined): string {
  const candidate = Array.isArray(header) ? header[0] : header;
  return candidate !== undefined && ACCEPTED.test(candidate) ? candidate : randomUUID();
}

/** Probe and scrape traffic: answered, but not worth a log line each. */
export function isQuietPath(url: string | undefined): boolean {
  return url !== undefined && /^\/(health|metrics)(\/|\?|$)/.test(url);
}
