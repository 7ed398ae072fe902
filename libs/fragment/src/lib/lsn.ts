/**
 * Postgres WAL positions (LSNs, text form `X/Y`: two hex numbers of up to 8 digits each) as 16 hex
 * digits, so that string order is log order: Lua compares them as strings (its numbers are doubles,
 * too small for a 64-bit position).
 */
const LSN = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;
const SORTABLE = /^[0-9A-F]{16}$/;

export function isLsn(text: string): boolean {
  return LSN.test(text);
}

/** `16/B374D848` → `00000016B374D848`. Throws on anything else. */
export function sortableLsn(lsn: string): string {
  const match = LSN.exec(lsn);
  if (!match) throw new TypeError(`not a Postgres LSN: ${JSON.stringify(lsn)}`);
  return `${match[1].toUpperCase().padStart(8, '0')}${match[2].toUpperCase().padStart(8, '0')}`;
}

/** `00000016B374D848` → `16/B374D848`, the form Postgres prints and parses. */
export function lsnFromSortable(sortable: string): string {
  if (!SORTABLE.test(sortable)) throw new TypeError(`not a sortable LSN: ${JSON.stringify(sortable)}`);
  const high = sortable.slice(0, 8).replace(/^0+(?=.)/, '');
  const low = sortable.slice(8).replace(/^0+(?=.)/, '');
  return `${high}/${low}`;
}
