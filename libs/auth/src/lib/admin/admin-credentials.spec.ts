import { adminCredentialsFromEnv, basicAuthMatches } from './admin-credentials';

const credentials = { user: 'admin', password: 'correct horse battery staple' };
const basic = (text: string) => `Basic ${Buffer.from(text).toString('base64')}`;

describe('adminCredentialsFromEnv', () => {
  it('turns the admin surfaces off when no password is set', () => {
    expect(adminCredentialsFromEnv({ NODE_ENV: 'production', ADMIN_USER: 'admin' })).toBeNull();
    expect(adminCredentialsFromEnv({ NODE_ENV: 'development', ADMIN_USER: 'admin' })).toBeNull();
  });

  it('takes any password outside production, and at least 16 characters in production', () => {
    expect(adminCredentialsFromEnv({ NODE_ENV: 'development', ADMIN_USER: 'ops', ADMIN_PASSWORD: 'short' })).toEqual({
      user: 'ops',
      password: 'short',
    });
    expect(() =>
      adminCredentialsFromEnv({ NODE_ENV: 'production', ADMIN_USER: 'ops', ADMIN_PASSWORD: 'x'.repeat(15) }),
    ).toThrow('ADMIN_PASSWORD must be at least 16 characters when NODE_ENV=production');
    expect(
      adminCredentialsFromEnv({ NODE_ENV: 'production', ADMIN_USER: 'ops', ADMIN_PASSWORD: 'x'.repeat(16) }),
    ).toEqual({ user: 'ops', password: 'x'.repeat(16) });
  });
});

describe('basicAuthMatches', () => {
  it('accepts exactly the credentials, case-insensitive scheme, password with colons', () => {
    expect(basicAuthMatches(basic('admin:correct horse battery staple'), credentials)).toBe(true);
    expect(basicAuthMatches(basic('admin:correct horse battery staple').replace('Basic', 'basic'), credentials)).toBe(
      true,
    );
    expect(basicAuthMatches(basic('admin:a:b'), { user: 'admin', password: 'a:b' })).toBe(true);
  });

  it.each([
    ['no header', undefined],
    ['another scheme', `Bearer ${Buffer.from('admin:correct horse battery staple').toString('base64')}`],
    ['a wrong password', basic('admin:correct horse battery stapl')],
    ['a longer password', basic('admin:correct horse battery staple!')],
    ['a wrong user', basic('Admin:correct horse battery staple')],
    ['no colon', basic('admincorrect horse battery staple')],
    ['an empty password', basic('admin:')],
    ['not base64', 'Basic !!!'],
    ['an empty value', 'Basic '],
    ['a huge value', `Basic ${'A'.repeat(5000)}`],
  ])('refuses %s', (_name, header) => {
    expect(basicAuthMatches(header, credentials)).toBe(false);
  });
});
