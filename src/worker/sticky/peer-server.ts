/**
 * A worker's peer socket, with `sticky`: where the other workers forward the
 * requests of this worker's Socket.IO sessions that reached them on
 * listeners whose connections cannot move (TLS, HTTP/2, PROXY protocol;
 * forward.ts). A unix socket at `<stateDir>/run/workers/<pid>.sock`
 * (peer-socket.ts), in a folder only Kirin's user may enter: what arrives
 * here comes from another worker, so its X-Forwarded-* are believed (the
 * pipeline's peer entry points) — which they never are on a public listener.
 */
import type { Server } from 'node:net';
import { rmSync } from 'node:fs';
import type { LimitsPlan } from '../../config/plan.ts';
import type { Logger } from '../../observe/log.ts';
import { preparePrivateSocket } from '../../util/private-socket.ts';
import type { Pipeline } from '../pipeline.ts';
import { createHttpServer, listenAt } from '../servers.ts';
import { peerSocketPath } from './peer-socket.ts';

/** sun_path holds 108 bytes on Linux, the last one a NUL. */
const MAX_SOCKET_PATH = 107;

/**
 * Listens on this worker's peer socket; null (said in the log) when it
 * cannot: then requests of this worker's sessions that land elsewhere are
 * served there, and their clients start new sessions.
 */
export async function listenForPeers(stateDir: string, pipeline: Pipeline, limits: LimitsPlan, logger: Logger, endsEmptyRequests: boolean): Promise<Server | null> {
  const path = peerSocketPath(stateDir, process.pid);
  const unusable = (why: string) => {
    logger.warn({ path }, `sticky: no peer socket for this worker (${why}); Socket.IO polling sessions of this worker that reach another one over TLS or a PROXY listener start over there`);
    return null;
  };
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) return unusable(`${path} is longer than the ${MAX_SOCKET_PATH} bytes a unix socket path may have; set a shorter stateDir`);
  const server = createHttpServer(pipeline, limits, logger, endsEmptyRequests, 'workers');
  try {
    preparePrivateSocket(path);
    await listenAt(server, path);
  } catch (error) {
    return unusable((error as Error).message);
  }
  // Closing the server (on drain) unlinks the path; an exit before that must not leave it behind.
  process.once('exit', () => rmSync(path, { force: true }));
  return server;
}
