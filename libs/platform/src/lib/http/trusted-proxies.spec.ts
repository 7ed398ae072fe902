import { parseProxyRange, TrustedProxies } from './trusted-proxies';

const proxies = (...entries: string[]) => new TrustedProxies(entries.map((e) => parseProxyRange(e)!));

describe('TrustedProxies', () => {
  it('trusts nobody by default', () => {
    expect(new TrustedProxies().trusts('127.0.0.1')).toBe(false);
    expect(new TrustedProxies().trusts('10.1.2.3')).toBe(false);
  });

  it('trusts the addresses and CIDR ranges given, IPv4 and IPv6, and no other', () => {
    const trusted = proxies('10.0.0.0/8', '192.168.1.7', 'fd00::/8');
    expect(trusted.trusts('10.255.0.1')).toBe(true);
    expect(trusted.trusts('11.0.0.1')).toBe(false);
    expect(trusted.trusts('192.168.1.7')).toBe(true);
    expect(trusted.trusts('192.168.1.8')).toBe(false);
    expect(trusted.trusts('fd12::1')).toBe(true);
    expect(trusted.trusts('fe80::1')).toBe(false);
    expect(trusted.trusts(undefined)).toBe(false);
  });

  it('recognises an IPv4 peer on a dual-stack socket (::ffff:a.b.c.d)', () => {
    expect(proxies('127.0.0.1').trusts('::ffff:127.0.0.1')).toBe(true);
    expect(proxies('127.0.0.1').trusts('::ffff:127.0.0.2')).toBe(false);
  });
});

describe('parseProxyRange', () => {
  it('reads an address or a CIDR', () => {
    expect(parseProxyRange(' 10.0.0.0/8 ')).toEqual({ address: '10.0.0.0', prefix: 8, family: 'ipv4' });
    expect(parseProxyRange('::1')).toEqual({ address: '::1', prefix: 128, family: 'ipv6' });
  });

  it.each(['', 'localhost', '10.0.0.0/33', '10.0.0.0/', '10.0.0.0/8/1', 'fd00::/129', '1.2.3.4/x', '*'])(
    'refuses %j',
    (entry) => expect(parseProxyRange(entry)).toBeUndefined(),
  );
});
