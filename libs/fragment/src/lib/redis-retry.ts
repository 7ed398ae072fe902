import { isRedisUnavailableError } from './redis-clients';

const FIRST_PAUSE_MS = 100;
const LONGEST_PAUSE_MS = 1000;

/**
 * Runs `command`, and again while Redis answers that it is unavailable (a failover, a restart), for
 * up to `withinMs`; any other error, or unavailability past that, is thrown. For a worker holding a
 * finished build: writing it once the promoted replica answers makes the copy ready seconds after a
 * failover, where failing the job would leave the copy waiting for its running lease to end.
 * Every engine script is safe to send again: a claim or completion that did land is recognised.
 */
export async function retryWhileUnavailable<T>(
  command: () => Promise<T>,
  withinMs: number,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (let pause = FIRST_PAUSE_MS; ; pause = Math.min(pause * 2, LONGEST_PAUSE_MS)) {
    try {
      return await command();
    } catch (error) {
      if (!isRedisUnavailableError(error) || Date.now() + pause > deadline) throw error;
      await sleep(pause);
    }
  }
}
