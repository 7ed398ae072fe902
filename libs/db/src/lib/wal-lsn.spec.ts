import { formatWalLsn, isWalLsn, parseWalLsn } from './wal-lsn';

describe('WAL positions', () => {
  it('compares as numbers, not as text', () => {
    expect(parseWalLsn('0/10') > parseWalLsn('0/F')).toBe(true);
    expect(parseWalLsn('1/0') > parseWalLsn('0/FFFFFFFF')).toBe(true);
    expect(parseWalLsn('16/B374D848')).toBe(0x16b374d848n);
  });

  it('round-trips through the text form Postgres prints', () => {
    for (const text of ['0/0', '0/3016060', '16/B374D848', 'FFFFFFFF/FFFFFFFF']) {
      expect(formatWalLsn(parseWalLsn(text))).toBe(text);
    }
    expect(parseWalLsn('16/b374d848')).toBe(parseWalLsn('16/B374D848'));
  });

  it.each(['', '0', '0/', '/0', '0/0/0', 'G/0', '123456789/0', ' 0/1', '0x1/0'])('refuses %j', (text) => {
    expect(isWalLsn(text)).toBe(false);
    expect(() => parseWalLsn(text)).toThrow(/not a WAL position/);
  });
});
