import { redactUrl } from './logger.options';
import { isQuietPath, resolveRequestId } from './request-id';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('resolveRequestId', () => {
  it('keeps a sane incoming id', () => {
    expect(resolveRequestId('abc-123_x.y:z')).toBe('abc-123_x.y:z');
    expect(resolveRequestId(['first', 'second'])).toBe('first');
  });

  it('makes a UUID when there is none or it is not acceptable', () => {
    expect(resolveRequestId(undefined)).toMatch(UUID);
    expect(resolveRequestId('')).toMatch(UUID);
    expect(resolveRequestId('has space')).toMatch(UUID);
    expect(resolveRequestId('line\nbreak')).toMatch(UUID);
    expect(resolveRequestId('x'.repeat(129))).toMatch(UUID);
    expect(resolveRequestId(undefined)).not.toBe(resolveRequestId(undefined));
  });
});

describe('isQuietPath', () => {
  it.each(['/health/live', '/health/ready', '/health', '/metrics', '/metrics?x=1'])('is quiet for %s', (url) => {
    expect(isQuietPath(url)).toBe(true);
  });

  it.each(['/api/pages/dashboard', '/healthy', '/metrics-export', '/', undefined])('logs %s', (url) => {
    expect(isQuietPath(url)).toBe(false);
  });
});

describe('redactUrl', () => {
  it('cuts credential values out of query strings and keeps the rest', () => {
    expect(redactUrl('/api/pages/dashboard/stream?ticket=abc.def&x=1')).toBe(
      '/api/pages/dashboard/stream?ticket=[Redacted]&x=1',
    );
    expect(redactUrl('/x?a=1&token=zzz')).toBe('/x?a=1&token=[Redacted]');
    expect(redactUrl('/x?tickets=1')).toBe('/x?tickets=1');
  });
});
