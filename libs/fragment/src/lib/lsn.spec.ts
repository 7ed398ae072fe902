import { isLsn, lsnFromSortable, sortableLsn } from './lsn';

describe('LSN text', () => {
  it('pads both halves so string order is log order', () => {
    expect(sortableLsn('16/B374D848')).toBe('00000016B374D848');
    expect(sortableLsn('0/0')).toBe('0000000000000000');
    const positions = ['0/FF', '0/100', '1/0', 'A/1', '10/0'];
    const sorted = [...positions].map(sortableLsn).sort();
    expect(sorted).toEqual(positions.map(sortableLsn));
  });

  it('round-trips to the form Postgres prints', () => {
    for (const lsn of ['16/B374D848', '0/0', 'FFFFFFFF/FFFFFFFF', '1/A']) {
      expect(lsnFromSortable(sortableLsn(lsn))).toBe(lsn);
    }
  });

  it('refuses anything else', () => {
    for (const bad of ['', '16', '16/', '/1', '123456789/0', '0/G', '0/1/2', ' 0/1']) {
      expect(isLsn(bad)).toBe(false);
      expect(() => sortableLsn(bad)).toThrow(TypeError);
    }
    expect(() => lsnFromSortable('00000016b374d848')).toThrow(TypeError);
  });
});
