import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { createHttpTerminator, type HttpTerminator } from 'http-terminator';

/**
 * http-terminator for the forced end of a drain: it marks the responses left
 * `Connection: close`, destroys idle sockets, gives in-flight ones `graceMs`, then
 * destroys them. Its socket tracking starts now, so create it with the server.
 */
export function createTerminator(server: HttpServer | HttpsServer, graceMs: number): () => Promise<void> {
  const terminator: HttpTerminator = createHttpTerminator({ server, gracefulTerminationTimeout: graceMs });
  return async function terminate() {
    try {
      await terminator.terminate();
    } catch (error) {
      // Its last step is server.close(), which fails once the listener is closed
      // (by the drain, or by the app): the sockets are gone, which is all that matters here.
      if ((error as { code?: unknown } | null)?.code !== 'ERR_SERVER_NOT_RUNNING') throw error;
    }
  };
}
