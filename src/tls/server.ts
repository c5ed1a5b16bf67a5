/** HTTPS listeners (TLS, HTTP/2). (To be written.) */
import type { Server } from 'node:net';
import type { ServePlan } from '../config/plan.ts';
import type { ListenerFd } from '../ipc.ts';
import type { WorkerServices } from '../worker/context.ts';
import type { Pipeline } from '../worker/pipeline.ts';

export async function createSecureServer(_listener: ListenerFd, _pipeline: Pipeline, _plan: ServePlan, _worker: WorkerServices): Promise<Server> {
  throw new Error('https listeners are not implemented yet');
}
