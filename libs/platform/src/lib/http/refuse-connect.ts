import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';

const BODY = JSON.stringify({
  statusCode: 405,
  error: 'Method Not Allowed',
  message: 'CONNECT is not supported: this is an API, not a proxy',
});

/**
 * Answers `CONNECT` (a proxy tunnel request) with 405 and a message. Node hands it to a `connect`
 * listener instead of the router, and without one closes the socket with no answer at all.
 */
export function refuseConnect(server: Server): void {
  server.on('connect', (_request: unknown, socket: Duplex) => {
    socket.on('error', () => undefined);
    socket.end(
      [
        'HTTP/1.1 405 Method Not Allowed',
        'Content-Type: application/json; charset=utf-8',
        `Content-Length: ${Buffer.byteLength(BODY)}`,
        'Connection: close',
        '',
        BODY,
      ].join('\r\n'),
    );
  });
}
