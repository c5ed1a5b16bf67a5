/**
 * What `kirin dev` adds to a worker (loaded only when the plan says dev):
 * the module graph reported to the master's watcher, the error page for an
 * app that fails to load or throws, the browser-reload stream and script,
 * and code frames in the terminal for errors the app leaves unhandled.
 */
import type { Socket } from 'node:net';
import { relative } from 'node:path';
import type { HandlerPlan, ServePlan } from '../config/plan.ts';
import { setAppErrorPage } from '../handlers/app/index.ts';
import type { Logger } from '../observe/log.ts';
import type { RequestContext } from '../worker/context.ts';
import type { Pipeline } from '../worker/pipeline.ts';
import { BrowserReload } from './browser-reload.ts';
import { sendErrorPage } from './error-page.ts';
import { trackLoadedModules } from './module-graph.ts';
import { codeFrame, codeFrameText, errorLocation } from './stack.ts';

/** The worker event that carries newly loaded files to the master (src/dev/master.ts). */
export const LOADED_FILES_EVENT = 'dev-files';

/**
 * On a restart, keep-alive connections idle at least this long are closed at
 * once, so the browser's next request opens a connection to the new code
 * instead of getting the old code from the draining worker. Connections used
 * more recently may carry a request this instant; they are closed by the
 * drain's sweep after their next response, as under `kirin serve`.
 */
const IDLE_CLOSE_MS = 100;

export class DevWorker {
  readonly #reload: BrowserReload | null;
  readonly #lastAnswered = new WeakMap<Socket, number>();
  #flushFiles: () => void = () => {};

  constructor(plan: ServePlan, generation: number, logger: Logger, notify: (type: string, payload: unknown) => void) {
    this.#reload = plan.dev?.reloadBrowser ? new BrowserReload(generation) : null;
    this.#flushFiles = trackLoadedModules((files) => notify(LOADED_FILES_EVENT, files));
    // Compiled code run in dev: stacks point at the sources (type-stripped .ts keeps its positions anyway).
    process.setSourceMapsEnabled(true);
    setAppErrorPage({
      failedToLoad: (error) => logger.error(`the app failed to load; every request gets the error page until a save fixes it: ${(error as Error)?.message ?? String(error)}\n${terminalFrame(error)}`),
      show: (ctx, error, failedToLoad) => sendErrorPage(ctx.req, ctx.res, { title: failedToLoad ? 'The app failed to load' : 'The app threw an error', error, route: describeRoute(ctx) }),
    });
    for (const event of ['unhandledRejection', 'uncaughtException'] as const) {
      process.on(event, (error: unknown) => {
        const frame = terminalFrame(error);
        if (frame) process.stderr.write(`${frame}\n`);
      });
    }
  }

  /** Every request takes the full path (no fast lane), so HTML gets the script and the stream is answered. */
  attach(pipeline: Pipeline): void {
    const reload = this.#reload;
    const lastAnswered = this.#lastAnswered;
    const before = pipeline.beforeRoute;
    pipeline.everyRequestFullPath = true;
    pipeline.beforeRoute = (req, res) => {
      res.once('finish', () => lastAnswered.set(req.socket, performance.now()));
      if (reload !== null) {
        if (reload.answer(req, res)) return true;
        reload.injectInto(req, res);
      }
      return before !== null && before(req, res);
    };
  }

  /** Before the worker says it is ready: the master must know what to watch before a save can happen. */
  beforeReady(): void {
    this.#flushFiles();
  }

  /** The worker was replaced: end the reload streams and close the connections that sit idle. */
  drain(sockets: Iterable<Socket>): void {
    this.#reload?.drain();
    const now = performance.now();
    for (const socket of sockets) {
      const busy = (socket as Socket & { _httpMessage?: unknown })._httpMessage;
      const answeredAt = this.#lastAnswered.get(socket);
      if (!busy && answeredAt !== undefined && now - answeredAt >= IDLE_CLOSE_MS) socket.destroy();
    }
  }
}

/** "sites["localhost"]["/"] → app src/app.ts": where Kirin sent the request. */
function describeRoute(ctx: RequestContext): string {
  return `${ctx.route.plan.at} → ${describeHandler(ctx.route.plan.handler)}`;
}

function describeHandler(handler: HandlerPlan): string {
  switch (handler.type) {
    case 'app':
      return `app ${relative(process.cwd(), handler.module) || handler.module}${handler.exportName === 'default' ? '' : `:${handler.exportName}`}`;
    case 'static':
      return `static ${handler.root}`;
    default:
      return handler.type;
  }
}

/** The code frame of an error's place in the project, for the terminal; '' when it has none. */
function terminalFrame(error: unknown): string {
  const location = errorLocation(error);
  const frame = location && codeFrame(location);
  return frame ? codeFrameText(frame) : '';
}
