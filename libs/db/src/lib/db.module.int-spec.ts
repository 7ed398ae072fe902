import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { InjectDataSource } from '@nestjs/typeorm';
import { createTestDatabase, TestDatabase } from '../testing';
import { DataSource } from 'typeorm';
import { DB_CONNECTION_OPTIONS, DbModule } from './db.module';
import { DbReader } from './reads/db-reader';

const DB_URL = Symbol('DB_URL');

/** Stands in for an app's validated config. */
@Module({})
class ConfigStubModule {
  static with(url: string) {
    return { module: ConfigStubModule, providers: [{ provide: DB_URL, useValue: url }], exports: [DB_URL] };
  }
}

@Injectable()
class UsesDataSource {
  constructor(@InjectDataSource() readonly dataSource: DataSource) {}
}

describe('DbModule (real Postgres)', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  }, 30_000);

  afterAll(() => db?.drop());

  it('provides an initialised DataSource with our entities, configured from injected providers', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        DbModule.forRootAsync({
          imports: [ConfigStubModule.with(db.url)],
          inject: [DB_URL],
          useFactory: (url: string) => ({ url, poolSize: 2, applicationName: 'db-module-spec' }),
        }),
      ],
      providers: [UsesDataSource],
    }).compile();
    try {
      const { dataSource } = moduleRef.get(UsesDataSource);
      expect(dataSource.isInitialized).toBe(true);
      expect(dataSource.entityMetadatas.map((meta) => meta.tableName).sort()).toEqual([
        'follows',
        'items',
        'likes',
        'outbox',
        'posts',
        'users',
      ]);
      const [row] = await dataSource.query(
        `SELECT current_setting('application_name') AS name, current_database() AS db`,
      );
      expect(row).toEqual({ name: 'db-module-spec', db: db.name });
    } finally {
      await moduleRef.close();
    }
  });

  it("provides the builders' DbReader and the resolved connection options", async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        DbModule.forRootAsync({
          useFactory: () => ({ url: db.url, poolSize: 2, statementTimeoutMs: 700, listenUrl: 'postgres://direct/db' }),
        }),
      ],
    }).compile();
    try {
      expect(moduleRef.get(DB_CONNECTION_OPTIONS)).toMatchObject({
        statementTimeoutMs: 700,
        listenUrl: 'postgres://direct/db',
      });
      const reader = moduleRef.get(DbReader);
      expect(reader.monitor).toBeUndefined();
      const rows = await reader.read({ signal: new AbortController().signal, timeoutMs: 5000 }, (query) =>
        query(`SELECT current_setting('statement_timeout') AS t, current_setting('transaction_read_only') AS ro`),
      );
      expect(rows).toEqual([{ t: '700ms', ro: 'on' }]);
    } finally {
      await moduleRef.close();
    }
  });

  it('fails fast at start-up when Postgres is unreachable', async () => {
    const started = Date.now();
    const compiling = Test.createTestingModule({
      imports: [DbModule.forRootAsync({ useFactory: () => ({ url: 'postgres://postgres@127.0.0.1:1/nowhere' }) })],
    })
      .setLogger({ log: () => undefined, error: () => undefined, warn: () => undefined })
      .compile();
    await expect(compiling).rejects.toThrow(/ECONNREFUSED/);
    expect(Date.now() - started).toBeLessThan(5_000);
  }, 15_000);
});
