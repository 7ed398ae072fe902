import type { DestinationStream } from 'pino';

export type LogLine = Record<string, unknown> & { msg?: string };

/** A pino destination that keeps parsed lines, for tests that assert on what was logged. */
export class MemoryLogStream implements DestinationStream {
  readonly lines: LogLine[] = [];

  write(line: string): void {
    this.lines.push(JSON.parse(line) as LogLine);
  }

  /** Response lines are written on 'finish', which may come just after the response resolved. */
  async waitFor(predicate: (line: LogLine) => boolean, timeoutMs = 1000): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.find(predicate);
      if (found) return found;
      if (Date.now() > deadline) throw new Error('no matching log line');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}
