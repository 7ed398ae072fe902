import { PermanentFragmentError } from '@worker-pattern/fragment';
import { DbReader } from '@worker-pattern/db';
import { DataSource } from 'typeorm';
import { RecommendationsBuilder } from './recommendations.builder';

describe('RecommendationsBuilder', () => {
  it('fails permanently, before touching the database, when the build has no viewer', async () => {
    // Never initialised: any query would throw a different error.
    const builder = new RecommendationsBuilder(DbReader.forPrimary(new DataSource({ type: 'postgres' })));
    const context = { viewerId: null, signal: new AbortController().signal, attempt: 1 };
    await expect(builder.build({}, context)).rejects.toThrow(PermanentFragmentError);
    await expect(builder.build({}, context)).rejects.toMatchObject({ code: 'no_viewer' });
  });
});
