import { PermanentFragmentError } from '@worker-pattern/fragment';
import { DbReader } from '@worker-pattern/db';
import { DataSource } from 'typeorm';
import { DEFAULT_FEED_FANOUT } from '@worker-pattern/feed';
import { FeedBuilder } from './feed.builder';

describe('FeedBuilder', () => {
  it('fails permanently, before touching the database, when the build has no viewer', async () => {
    // Never initialised: any query would throw a different error.
    const builder = new FeedBuilder(DbReader.forPrimary(new DataSource({ type: 'postgres' })), DEFAULT_FEED_FANOUT);
    const building = builder.build({}, { viewerId: null, signal: new AbortController().signal, attempt: 1 });
    await expect(building).rejects.toThrow(PermanentFragmentError);
    await expect(
      builder.build({}, { viewerId: null, signal: new AbortController().signal, attempt: 1 }),
    ).rejects.toMatchObject({ code: 'no_viewer' });
  });
});
