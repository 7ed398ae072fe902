import { createBullBoard } from '@bull-board/api';
import { BullAdapter } from '@bull-board/api/bullAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { getQueueToken } from '@nestjs/bull';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { type AdminCredentials, adminBasicAuthHook } from '@worker-pattern/auth';
import type { Queue } from 'bull';
import type { FastifyInstance } from 'fastify';

export const QUEUE_DASHBOARD_PATH = '/admin/queues';

/**
 * bull-board at /admin/queues, behind the admin credentials; not mounted at all (404) without them.
 *
 * Mounted with `@bull-board/fastify` straight on Nest's Fastify instance rather than through
 * `@bull-board/nestjs`: that module guards the board with Nest middleware bound to the route's
 * exact path, which under Fastify does not cover the board's sub-routes (`/admin/queues/api/…`).
 * Here the auth hook and the board share one encapsulated Fastify scope, so the hook runs for
 * every route the board registers, its static files and API included, and for nothing else.
 *
 * The gateway only reads and manages the queues through the board; it never processes them. With
 * MANAGEMENT_PORT set the board is served on that read-only port only (see libs/platform's
 * management-port.ts), so it is mounted read-only: no retry or clean buttons that would answer 405.
 */
export async function mountQueueDashboard(
  app: NestFastifyApplication,
  credentials: AdminCredentials | null,
  queueNames: readonly string[],
  options: { readOnly?: boolean } = {},
): Promise<boolean> {
  if (!credentials) return false;
  const queues = queueNames.map((name) => app.get<Queue>(getQueueToken(name), { strict: false }));
  const board = new FastifyAdapter();
  board.setBasePath(QUEUE_DASHBOARD_PATH);
  createBullBoard({
    queues: queues.map((queue) => new BullAdapter(queue, { readOnlyMode: options.readOnly ?? false })),
    serverAdapter: board,
    options: { uiConfig: { boardTitle: 'worker-pattern queues' } },
  });
  await app.register(async (scope: FastifyInstance) => {
    scope.addHook('onRequest', adminBasicAuthHook(credentials));
    await scope.register(board.registerPlugin(), { prefix: QUEUE_DASHBOARD_PATH });
  });
  return true;
}
