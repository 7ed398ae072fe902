import { databaseNameFromUrl, quoteIdentifier, redactUrl, urlForDatabase } from './database-admin';

describe('quoteIdentifier', () => {
  it('wraps a plain name in double quotes', () => {
    expect(quoteIdentifier('worker_pattern')).toBe('"worker_pattern"');
  });

  it('doubles embedded quotes so a name cannot break out of the identifier', () => {
    expect(quoteIdentifier('a"; DROP DATABASE x; --')).toBe('"a""; DROP DATABASE x; --"');
  });

  it.each(['', 'a\0b'])('rejects %p', (name) => {
    expect(() => quoteIdentifier(name)).toThrow(/invalid SQL identifier/);
  });
});

describe('database URLs', () => {
  it('reads the database name, decoding escapes', () => {
    expect(databaseNameFromUrl('postgres://postgres@127.0.0.1:5432/worker_pattern')).toBe('worker_pattern');
    expect(databaseNameFromUrl('postgres://u:p@db/my%20db?sslmode=disable')).toBe('my db');
  });

  it('refuses a URL without a database', () => {
    expect(() => databaseNameFromUrl('postgres://u:secret@db:5432/')).toThrow(
      /names no database: postgres:\/\/u:\*\*\*@db:5432\//,
    );
  });

  it('points the same server at another database, keeping credentials and query', () => {
    expect(urlForDatabase('postgres://u:p@db:5433/app?application_name=x', 'postgres')).toBe(
      'postgres://u:p@db:5433/postgres?application_name=x',
    );
    expect(databaseNameFromUrl(urlForDatabase('postgres://db/app', 'we"ird name'))).toBe('we"ird name');
  });

  it('redacts the password', () => {
    expect(redactUrl('postgres://u:secret@db/app')).toBe('postgres://u:***@db/app');
    expect(redactUrl('postgres://db/app')).toBe('postgres://db/app');
    expect(redactUrl('not a url')).toBe('<unparseable database URL>');
  });
});
