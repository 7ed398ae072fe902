// Line prefixing for child output: `[name]   <line as the child wrote it>`. Pure apart from the
// `write` callback it is given (and the registry's app names, read once for their colours).
import { StringDecoder } from 'node:string_decoder';
import { APPS } from './config.mjs';

/** What the launcher runs besides the registry's apps, each in a colour no app gets. */
const INFRA_COLORS = {
  'db-cli': 34, // blue
  redis: 31, // red
  postgres: 94, // bright blue
  start: 1, // bold
};

// Cyan, magenta, green, yellow, bright cyan, bright magenta, bright green, bright yellow.
const APP_PALETTE = [36, 35, 32, 33, 96, 95, 92, 93];

/**
 * SGR colour codes for the apps, in the order given (the registry's), then the infrastructure's:
 * the palette first, then as many distinct 256-colour codes as more apps need, so an app the
 * generator adds gets a colour of its own with no edit here.
 */
export function assignColors(appNames) {
  const colors = {};
  appNames.forEach((name, i) => {
    // 37 is coprime with the 216 colours of the 256-colour cube (16-231): no two apps share one.
    colors[name] = i < APP_PALETTE.length ? APP_PALETTE[i] : `38;5;${16 + (((i - APP_PALETTE.length) * 37) % 216)}`;
  });
  return { ...colors, ...INFRA_COLORS };
}

/** Every app of the registry (libs/registry/src/apps.json) and the infrastructure, by name. */
export const COLORS = assignColors(APPS.map((a) => a.name));

/** Should coloured prefixes be used for this stream? NO_COLOR wins, then FORCE_COLOR, then TTY. */
export function shouldUseColor(stream, env) {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined) return env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false';
  return Boolean(stream && stream.isTTY) && env.TERM !== 'dumb';
}

/**
 * `[name]` padded with spaces to `width` + 2 columns (so every app's text starts in the same
 * column), coloured when `color` is an SGR code. Ends with one space.
 */
export function formatPrefix(name, width, color) {
  const label = `[${name}]`;
  const pad = ' '.repeat(Math.max(0, width + 2 - label.length));
  return color ? `\x1b[${color}m${label}\x1b[0m${pad} ` : `${label}${pad} `;
}

/**
 * Splits a byte or string stream into lines and hands each complete line, without its line
 * ending ("\n" or "\r\n"), to `onLine`. UTF-8 sequences split across chunks are kept whole.
 * `flush()` emits a last line that had no newline.
 */
export function createLineSplitter(onLine) {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  const emit = (line) => onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
  return {
    push(chunk) {
      pending += typeof chunk === 'string' ? chunk : decoder.write(chunk);
      if (!pending.includes('\n')) return;
      const lines = pending.split('\n');
      pending = lines.pop();
      for (const line of lines) emit(line);
    },
    flush() {
      pending += decoder.end();
      if (pending !== '') emit(pending);
      pending = '';
    },
  };
}

/**
 * A sink that writes every line of a child's stream to `write` with the prefix in front. Without
 * `format` the line is passed through byte for byte, so a JSON log line stays valid JSON after
 * the prefix; `format` may turn a line into other text, of one line or several, each prefixed,
 * or into undefined to leave it out.
 */
export function createPrefixer({ name, width, color, write, format }) {
  const prefix = formatPrefix(name, width, color);
  return createLineSplitter((line) => {
    const text = format ? format(line) : line;
    if (text === undefined) return;
    write(
      text
        .split('\n')
        .map((l) => `${prefix}${l}\n`)
        .join(''),
    );
  });
}
