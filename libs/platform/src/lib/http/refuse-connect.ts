import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { closingAnswer } from './client-errors';

const ANSWER = closingAnswer(405, 'CONNECT is not supported: this is an API, not a proxy');

/**
 * Answers `CONNECT` (a proxy tunnel request) with 405 and a message. Node hands it to a `connect`
 * listener instead of the router, and without one closes the socket with no answer at all.
 */
export function refuseConnect(server: Server): void {
  server.on('connect', (_request: unknown, socket: Duplex) => {
    socket.on('error', () => undefined);
    socket.end(ANSWER);
  });
}
