import { retryWhileUnavailable } from './redis-retry';

/** A command that fails with the given errors in turn, then answers 'ok'. */
function failingWith(...errors: Error[]) {
  let calls = 0;
  const command = async () => {
    const error = errors[calls++];
    if (error) throw error;
    return 'ok';
  };
  return { command, calls: () => calls };
}

describe('retryWhileUnavailable', () => {
  const pauses: number[] = [];
  const sleep = async (ms: number) => void pauses.push(ms);
  beforeEach(() => (pauses.length = 0));

  it('sends the command again while Redis fails over, pausing longer each time up to a second', async () => {
    const unavailable = [
      new Error('CLUSTERDOWN The cluster is down'),
      new Error('Connection is closed.'),
      new Error('READONLY You can’t write against a read only replica.'),
      ...Array.from({ length: 5 }, () => new Error('CLUSTERDOWN Hash slot not served')),
    ];
    const { command, calls } = failingWith(...unavailable);
    await expect(retryWhileUnavailable(command, 60_000, sleep)).resolves.toBe('ok');
    expect(calls()).toBe(unavailable.length + 1);
    expect(pauses).toEqual([100, 200, 400, 800, 1000, 1000, 1000, 1000]);
  });

  it('throws any other error at once', async () => {
    const { command, calls } = failingWith(new Error('ERR wrong number of arguments'));
    await expect(retryWhileUnavailable(command, 60_000, sleep)).rejects.toThrow('wrong number');
    expect(calls()).toBe(1);
  });

  it('gives up when Redis stays unavailable past its time', async () => {
    const { command, calls } = failingWith(new Error('CLUSTERDOWN'), new Error('CLUSTERDOWN'));
    await expect(retryWhileUnavailable(command, 50, sleep)).rejects.toThrow('CLUSTERDOWN');
    expect(calls()).toBe(1);
  });
});
