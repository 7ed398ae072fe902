import { ConfigurableModuleBuilder, Module } from '@nestjs/common';

/**
 * Hybrid fan-out of posts, shared by the invalidation worker (push) and the feed builder (pull).
 * Most authors' posts are pushed: the invalidation worker marks each follower's feed stale, a page of
 * followers at a time. An author with more than `celebrityFollowers` followers is not pushed (a post
 * would cost a million invalidations); instead every feed that follows such an author stays fresh for
 * `celebrityFeedTtlMs` only, so its next build, at most that long after a post, pulls the post in.
 */
export interface FeedFanoutOptions {
  /** Followers per fan-out page, and so per invalidation job (bounded memory and batch size). */
  readonly pageSize: number;
  /** Above this many followers an author's posts are pulled by followers' feeds, not pushed. */
  readonly celebrityFollowers: number;
  /** Freshness of a feed that follows such an author: how late one of their posts may show up. */
  readonly celebrityFeedTtlMs: number;
}

export const FEED_FANOUT_OPTIONS = Symbol('FEED_FANOUT_OPTIONS');

/**
 * The settings' one statement of their defaults: what a worker runs with when FANOUT_* are unset
 * (libs/platform's `fanoutEnvSchema` leaves them so), and what code building feeds outside a worker
 * (tests, bench) passes.
 */
export const DEFAULT_FEED_FANOUT: FeedFanoutOptions = Object.freeze({
  pageSize: 1_000,
  celebrityFollowers: 10_000,
  // Within the 2 s a post may take to reach an open feed: the ttl, a build, the push.
  celebrityFeedTtlMs: 1_000,
});

/** The validated variables (`fanoutEnvSchema` in libs/platform) the options come from; unset: the default. */
export interface FeedFanoutEnv {
  readonly FANOUT_PAGE_SIZE?: number | undefined;
  readonly FANOUT_CELEBRITY_FOLLOWERS?: number | undefined;
  readonly FANOUT_CELEBRITY_FEED_TTL_MS?: number | undefined;
}

export const FEED_FANOUT_ENV_KEYS = [
  'FANOUT_PAGE_SIZE',
  'FANOUT_CELEBRITY_FOLLOWERS',
  'FANOUT_CELEBRITY_FEED_TTL_MS',
] as const satisfies ReadonlyArray<keyof FeedFanoutEnv>;

export function feedFanoutOptionsFromEnv(env: FeedFanoutEnv): FeedFanoutOptions {
  return {
    pageSize: env.FANOUT_PAGE_SIZE ?? DEFAULT_FEED_FANOUT.pageSize,
    celebrityFollowers: env.FANOUT_CELEBRITY_FOLLOWERS ?? DEFAULT_FEED_FANOUT.celebrityFollowers,
    celebrityFeedTtlMs: env.FANOUT_CELEBRITY_FEED_TTL_MS ?? DEFAULT_FEED_FANOUT.celebrityFeedTtlMs,
  };
}

/**
 * The builder pulls authors from half the threshold up, the fan-out skips them only above it: an
 * author crossing the threshold is then pulled by every feed built since it had half as many
 * followers, so no post falls between the two (a feed's ttl is 30 s; doubling followers in that
 * time is what it would take).
 */
export function pullFromFollowers(options: FeedFanoutOptions): number {
  return Math.floor(options.celebrityFollowers / 2);
}

/**
 * `$1` has more than `$2` followers: reads at most `$2 + 1` entries of the (followee_id,
 * follower_id) index, however many followers there are.
 */
export const HAS_MORE_FOLLOWERS_THAN_SQL = `
  SELECT EXISTS (SELECT 1 FROM follows WHERE followee_id = $1 OFFSET $2) AS more`;

const { ConfigurableModuleClass } = new ConfigurableModuleBuilder<FeedFanoutOptions>({
  optionsInjectionToken: FEED_FANOUT_OPTIONS,
})
  .setClassMethodName('forRoot')
  .setExtras({}, (definition) => ({ ...definition, global: true, exports: [FEED_FANOUT_OPTIONS] }))
  .build();

/** Provides `FEED_FANOUT_OPTIONS` to the whole app (the feed builder, the invalidation fan-out). */
@Module({})
export class FeedFanoutModule extends ConfigurableModuleClass {}
