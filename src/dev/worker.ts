/**
 * What `kirin dev` adds to a worker (loaded only when the plan says dev):
 * the module graph reported to the master's watcher, the error page for an
 * app that fails to load or throws, the browser-reload stream and script,
 * and code frames in the terminal for errors the app leaves unhandled.
 */
import { relative } from 'node:path';
import type { HandlerPlan, ServePlan } from '../config/plan.ts';
import type { ListenerFd } from '../ipc.ts';
import { setAppErrorPage } from '../handlers/app/report.ts';
import type { Logger } from '../observe/log.ts';
import type { RequestContext } from '../worker/context.ts';
import type { Pipeline } from '../worker/pipeline.ts';
import { BrowserReload } from './browser-reload.ts';
import { sendErrorPage } from './error-page.ts';
import { handOver, handOverTarget, type HandOverTarget } from './hand-over.ts';
import { trackLoadedModules } from './module-graph.ts';
import { codeFrame, codeFrameText, errorLocation } from './stack.ts';

/** The worker event that carries newly loaded files to the master (src/dev/master.ts). */
export const LOADED_FILES_EVENT = 'dev-files';
/** The worker event that says a replaced worker hands its requests over from now on. */
export const REPLACED_EVENT = 'dev-replaced';
/** The worker event that says requests are coming: the master checks for changes that raised no file event. */
export const ACTIVITY_EVENT = 'dev-activity';
/** At most one activity event this often (a request in between is told at the end): each makes the master stat the watched files. */
const ACTIVITY_INTERVAL_MS = 1_000;

export class DevWorker {
  readonly #reload: BrowserReload | null;
  /** Where requests that reach this worker after it was replaced go (hand-over.ts). */
  readonly #successor: HandOverTarget;
  #replaced = false;
  #activityAt = -ACTIVITY_INTERVAL_MS;
  #activityTimer: NodeJS.Timeout | null = null;
  #flushFiles: () => void = () => {};
  readonly #notify: (type: string, payload: unknown) => void;

  constructor(plan: ServePlan, generation: number, listeners: readonly ListenerFd[], logger: Logger, notify: (type: string, payload: unknown) => void) {
    this.#reload = plan.dev?.reloadBrowser ? new BrowserReload(generation, (message) => logger.warn(message)) : null;
    this.#successor = handOverTarget(listeners);
    this.#notify = notify;
    this.#flushFiles = trackLoadedModules((files) => notify(LOADED_FILES_EVENT, files));
    // Compiled code run in dev: stacks point at the sources (type-stripped .ts keeps its positions anyway).
    process.setSourceMapsEnabled(true);
    setAppErrorPage({
      failedToLoad: (error, hint) =>
        logger.error(`the app failed to load; every request gets the error page until a save fixes it: ${(error as Error)?.message ?? String(error)}${hint === null ? '' : `\n${hint}`}\n${terminalFrame(error)}`),
      show: (ctx, error, failedToLoad, hint) => {
        // The log has the error and its stack already (reportAppError); the terminal gets where it is in the source.
        if (!failedToLoad) writeFrame(error);
        sendErrorPage(ctx.req, ctx.res, { title: failedToLoad ? 'The app failed to load' : 'The app threw an error', error, route: describeRoute(ctx), hint: hint ?? null });
      },
    });
    for (const event of ['unhandledRejection', 'uncaughtException'] as const) process.on(event, writeFrame);
  }

  /** Every request takes the full path (no fast lane), so HTML gets the script and the stream is answered. */
  attach(pipeline: Pipeline): void {
    const reload = this.#reload;
    const before = pipeline.beforeRoute;
    pipeline.everyRequestFullPath = true;
    pipeline.beforeRoute = (req, res) => {
      this.#tellActivity();
      if (this.#replaced && handOver(req, res, this.#successor)) return true;
      if (reload !== null) {
        if (reload.answer(req, res)) return true;
        reload.injectInto(req, res);
      }
      return before !== null && before(req, res);
    };
  }

  #tellActivity(): void {
    if (this.#activityTimer !== null) return;
    const wait = this.#activityAt + ACTIVITY_INTERVAL_MS - performance.now();
    const tell = () => {
      this.#activityTimer = null;
      this.#activityAt = performance.now();
      this.#notify(ACTIVITY_EVENT, null);
    };
    if (wait <= 0) tell();
    else this.#activityTimer = setTimeout(tell, wait).unref();
  }

  /** Before the worker says it is ready: the master must know what to watch before a save can happen. */
  beforeReady(): void {
    this.#flushFiles();
  }

  /** The worker was replaced: end the reload streams; requests still arriving go to the new code. */
  drain(): void {
    this.#replaced = true;
    this.#reload?.drain();
    this.#notify(REPLACED_EVENT, null);
  }
}

/** 'site "localhost", route "/" → app src/app.ts': where Kirin sent the request. */
function describeRoute(ctx: RequestContext): string {
  return `site "${ctx.site.plan.key}", route "${ctx.route.prefix}" → ${describeHandler(ctx.route.plan.handler)}`;
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

function writeFrame(error: unknown): void {
  const frame = terminalFrame(error);
  if (frame) process.stderr.write(`${frame}\n`);
}

/** The code frame of an error's place in the project, for the terminal; '' when it has none. */
function terminalFrame(error: unknown): string {
  const location = errorLocation(error);
  const frame = location && codeFrame(location);
  return frame ? codeFrameText(frame) : '';
}
