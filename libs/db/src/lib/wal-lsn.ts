/**
 * WAL positions (LSNs) as Postgres prints them, `X/Y`: two hexadecimal halves of a 64-bit byte
 * offset into the write-ahead log. Parsed to bigints so they compare as numbers (`0/10` > `0/F`).
 */
const LSN = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

export function isWalLsn(text: string): boolean {
  return LSN.test(text);
}

export function parseWalLsn(text: string): bigint {
  const match = LSN.exec(text);
  if (!match) throw new Error(`not a WAL position (X/Y in hexadecimal): ${JSON.stringify(text)}`);
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

export function formatWalLsn(position: bigint): string {
  return `${(position >> 32n).toString(16).toUpperCase()}/${(position & 0xffffffffn).toString(16).toUpperCase()}`;
}
