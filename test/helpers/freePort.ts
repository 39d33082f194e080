import { createServer } from 'node:net';

/**
 * A TCP port free on 127.0.0.1 right now (the OS picks it; the probe socket is closed again), for
 * a server a test or benchmark starts itself. Plain Node, no vitest: the global setup and the
 * benchmarks use it too.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('could not read the port of a probe socket'));
        return;
      }
      srv.close(() => resolve(addr.port));
    });
  });
}
