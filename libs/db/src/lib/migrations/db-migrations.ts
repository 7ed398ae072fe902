import { FollowsByFollowee1764979200000 } from './follows-by-followee.migration';
import { InitialSchema1764201600000 } from './initial-schema.migration';
import { Outbox1764288000000 } from './outbox.migration';

/** Every migration, oldest first, listed explicitly (no globs: apps are bundled by webpack). */
export const DB_MIGRATIONS = [InitialSchema1764201600000, Outbox1764288000000, FollowsByFollowee1764979200000] as const;
