import { Follow } from './follow.entity';
import { Item } from './item.entity';
import { Like } from './like.entity';
import { OutboxEvent } from './outbox-event.entity';
import { Post } from './post.entity';
import { User } from './user.entity';

export { Follow, Item, Like, OutboxEvent, Post, User };

/** Every entity, listed explicitly: globs break once webpack bundles an app into one file. */
export const DB_ENTITIES = [User, Follow, Post, Item, Like, OutboxEvent] as const;
