import { BadRequestException } from '@nestjs/common';

export const MAX_WAIT_MS = 2000;

export type RawQuery = Record<string, unknown>;

/**
 * Splits `waitMs` off a query string and validates it (an integer from 0 to 2000); the rest is
 * returned for the fragment's own params schema.
 */
export function takeWaitMs(query: RawQuery): { waitMs: number; rest: RawQuery } {
  const rest: RawQuery = {};
  let waitMs = 0;
  for (const name of Object.keys(query)) {
    const value = query[name];
    if (name !== 'waitMs') {
      Object.defineProperty(rest, name, { value, enumerable: true, writable: true, configurable: true });
      continue;
    }
    if (typeof value !== 'string' || !/^(0|[1-9][0-9]{0,3})$/.test(value) || Number(value) > MAX_WAIT_MS) {
      throw new BadRequestException(`invalid parameter "waitMs": must be an integer from 0 to ${MAX_WAIT_MS}`);
    }
    waitMs = Number(value);
  }
  return { waitMs, rest };
}

/** Pages take no params of their own: anything but `waitMs` is refused, named. */
export function refuseUnknownParams(rest: RawQuery, page: string): void {
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) {
    const name = unknown.replace(/[^\x20-\x7e]/g, '?').slice(0, 64);
    throw new BadRequestException(`unknown parameter "${name}" for page "${page}"`);
  }
}
