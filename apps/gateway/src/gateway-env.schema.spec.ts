import { EnvValidationError, validateEnv } from '@worker-pattern/platform';
import { apiDocsAccess } from './api-docs.setup';
import { gatewayEnvSchema } from '@worker-pattern/pages';

function problemsOf(env: Record<string, string>): Record<string, string> {
  try {
    validateEnv(gatewayEnvSchema, { env, defaults: { PORT: 3000 } });
  } catch (error) {
    if (error instanceof EnvValidationError)
      return Object.fromEntries(error.problems.map((p) => [p.variable, p.problem]));
    throw error;
  }
  return {};
}

describe('the gateway’s environment', () => {
  it('is safe by default: CORS closed, admin surfaces off, generous per-viewer limits, docs on', () => {
    const env = validateEnv(gatewayEnvSchema, { env: {}, defaults: { PORT: 3000 } });
    expect(env.ADMIN_PASSWORD).toBeUndefined();
    expect(env).toMatchObject({
      CORS_ORIGINS: [],
      ADMIN_USER: 'admin',
      RATE_LIMIT_PER_MINUTE: 1200,
      RATE_LIMIT_WRITES_PER_MINUTE: 120,
      RATE_LIMIT_LOGIN_PER_MINUTE: 3000,
      API_DOCS: true,
    });
  });

  it('reports every bad security setting at once, never echoing a password', () => {
    expect(
      problemsOf({
        CORS_ORIGINS: '*',
        RATE_LIMIT_PER_MINUTE: '0',
        RATE_LIMIT_WRITES_PER_MINUTE: 'lots',
        ADMIN_USER: 'a:b',
        ADMIN_PASSWORD: 'line\nbreak',
        API_DOCS: 'yes',
      }),
    ).toEqual({
      CORS_ORIGINS: expect.stringMatching(/^must be a comma-separated list of origins/),
      RATE_LIMIT_PER_MINUTE: 'must be an integer between 1 and 1000000 (got "0")',
      RATE_LIMIT_WRITES_PER_MINUTE: 'must be an integer between 1 and 1000000 (got "lots")',
      ADMIN_USER: 'must be 1 to 64 characters, without ":" or spaces (got "a:b")',
      ADMIN_PASSWORD: 'must be 1 to 256 characters on one line (got a value of 10 characters)',
      API_DOCS: 'must be true, false, 1 or 0 (got "yes")',
    });
  });
});

describe('who may read the API docs', () => {
  const admin = { user: 'admin', password: 'x'.repeat(16) };

  it('anyone outside production, the admin in production, nobody when turned off or without admin credentials', () => {
    expect(apiDocsAccess({ enabled: true, production: false, credentials: null })).toBe('public');
    expect(apiDocsAccess({ enabled: true, production: false, credentials: admin })).toBe('public');
    expect(apiDocsAccess({ enabled: true, production: true, credentials: admin })).toBe('admin');
    expect(apiDocsAccess({ enabled: true, production: true, credentials: null })).toBe('off');
    expect(apiDocsAccess({ enabled: false, production: false, credentials: admin })).toBe('off');
    expect(apiDocsAccess({ enabled: false, production: true, credentials: admin })).toBe('off');
  });
});
