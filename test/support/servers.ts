import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** Starts `handler` on an ephemeral port of 127.0.0.1 and resolves with the server and its base URL. */
export async function listen(
  handler: http.RequestListener,
  options: http.ServerOptions = {},
): Promise<{ server: http.Server; url: string; port: number }> {
  const server = http.createServer(options, handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}`, port };
}

/** Closes a server and every socket it still holds; resolves once it is closed. */
export async function closeServer(server: http.Server): Promise<void> {
  if (!server.listening) return;
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
