import Fastify from 'fastify';
import { Redis } from 'ioredis';

/**
 * The floor of scenario 2: the least a server can do to answer the warm dashboard from Redis. Bare
 * Fastify and one MGET of the three fragments' `F` JSON (stored as plain keys by the bench), spliced
 * into the same page JSON the gateway sends: the same bytes, with none of the gateway's work (no
 * signature check, no rate limit, no Nest pipeline, no request log, no Lua, no leases, no metrics).
 * The viewer is read from the token's payload without checking its signature, once per token.
 * Env: PORT, REDIS_URL, FLOOR_PREFIX (keys are `<prefix><viewer>:<fragment>`).
 */
const FRAGMENTS = ['profile', 'feed', 'recommendations'] as const;
const env = process.env;
const prefix = env['FLOOR_PREFIX'] ?? 'floor:';
const redis = new Redis(env['REDIS_URL'] ?? 'redis://127.0.0.1:6379');
const viewers = new Map<string, number>();

function viewerOf(authorization: string | undefined): number | undefined {
  if (!authorization?.startsWith('Bearer ')) return undefined;
  const token = authorization.slice(7);
  let viewer = viewers.get(token);
  if (viewer === undefined) {
    try {
      const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { sub?: string };
      viewer = Number(payload.sub);
    } catch {
      return undefined;
    }
    if (!Number.isSafeInteger(viewer)) return undefined;
    viewers.set(token, viewer);
  }
  return viewer;
}

const app = Fastify({ logger: false });
app.get('/health', async () => ({ ok: true }));
app.get('/api/pages/dashboard', async (request, reply) => {
  const viewer = viewerOf(request.headers.authorization);
  if (viewer === undefined) return reply.code(401).send({ message: 'no viewer' });
  const parts = await redis.mget(FRAGMENTS.map((f) => `${prefix}${viewer}:${f}`));
  if (parts.some((p) => p === null)) return reply.code(404).send({ message: 'not in the floor' });
  const body = `{"page":"dashboard","fragments":{${parts.map((p, i) => `"${FRAGMENTS[i]}":${p}`).join(',')}}}`;
  return reply
    .code(200)
    .header('content-type', 'application/json; charset=utf-8')
    .header('cache-control', 'no-store')
    .send(body);
});

const stop = async () => {
  await app.close();
  redis.disconnect();
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());

app.listen({ port: Number(env['PORT'] ?? 0), host: '127.0.0.1' }).catch((error: Error) => {
  process.stderr.write(`floor: ${error.message}\n`);
  process.exit(1);
});
