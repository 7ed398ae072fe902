// Free-port finding. Only touches the local network stack.
import net from 'node:net';

/**
 * Resolves true when nothing listens on `port` (we can bind it ourselves), false on EADDRINUSE
 * or EACCES. Without a host it binds the unspecified address, which also collides with a
 * server bound to 127.0.0.1 only.
 */
export function isPortFree(port, host) {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', (err) => {
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') resolve(false);
      else reject(err);
    });
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Asks the OS for a free TCP port on `host` (default 127.0.0.1). */
export function findFreePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}
