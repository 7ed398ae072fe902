import { maxHeaderSize, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { REQUEST_TIMEOUT_MS } from './body-limit';

/** What Node's HTTP parser (or its request timeout) reports when a request cannot be served. */
export interface ClientError extends Error {
  readonly code?: string;
  /** llhttp's reason, e.g. "Invalid header value char": a fixed string, never the client's bytes. */
  readonly reason?: string;
}

/** Node's server socket: `_httpMessage` is the answer to the request being served, if any. */
type ClientSocket = Duplex & { _httpMessage?: ServerResponse | null };

/** How long a refused connection may keep sending before it is cut off. */
const LINGER_MS = 2_000;
const answered = new WeakSet<Duplex>();

/**
 * A whole HTTP/1.1 answer in our error shape, written straight to a socket the router never saw;
 * `Connection: close` because the socket closes after it.
 */
export function closingAnswer(status: number, message: string): string {
  const body = JSON.stringify({ statusCode: status, error: STATUS_CODES[status], message });
  return [
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'X-Content-Type-Options: nosniff',
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}

/** The status and message for a request Node could not frame (exported for tests). */
export function describeClientError(error: ClientError): { status: number; message: string } {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return {
        status: 431,
        message: `request line and headers too large: at most ${maxHeaderSize} bytes together (the URL counts)`,
      };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { status: 413, message: 'chunk extensions too large' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, message: `request not received in full within ${REQUEST_TIMEOUT_MS / 1000} s` };
    default: {
      const reason = (error.reason ?? '').replace(/[^\x20-\x7e]/g, '').slice(0, 100);
      return { status: 400, message: reason ? `malformed HTTP request: ${reason}` : 'malformed HTTP request' };
    }
  }
}

/**
 * Fastify's `clientErrorHandler`: answers a request Node refused (headers too large, bad framing, a
 * request timeout) with the usual JSON error and `Connection: close`. Fastify's default leaves out
 * `Connection: close` and destroys the socket at once, so a keep-alive client may send its next
 * request on that connection before it sees the close (that request then fails with "other side
 * closed"), and a client still sending gets a reset that can discard the answer. After a parse
 * error the parser refuses everything that follows, and Node calls this again for each later
 * chunk: those are read and dropped while the answer drains, until the client closes or
 * `LINGER_MS` passes. A timed-out request's parser would still take the rest of the request, so
 * that connection is closed as soon as the answer is written, as Node does.
 */
export function answerClientError(error: ClientError, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed || answered.has(socket)) return;
  answered.add(socket);
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const current = (socket as ClientSocket)._httpMessage;
  if (current && (current.headersSent || current.req?.complete)) {
    // Bad bytes pipelined behind a whole request whose answer is still to come or under way: an
    // answer written now would be read as that request's. It goes out, then the connection closes.
    if (!current.headersSent) current.shouldKeepAlive = false;
    current.once('finish', () => socket.end());
    return;
  }
  const { status, message } = describeClientError(error);
  socket.end(
    closingAnswer(status, message),
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? () => socket.destroy() : undefined,
  );
  // Whatever the client does, the connection is gone after LINGER_MS (a client that stops reading too).
  const linger = setTimeout(() => socket.destroy(), LINGER_MS).unref();
  socket.once('close', () => clearTimeout(linger));
}
