/**
 * nginx's `send_timeout` for HTTP/2 (`limits.sendTimeout`): a response that
 * makes no progress for that long has its stream reset.
 *
 * HTTP/2 flow control lets a client hold a response without reading it: a
 * window of zero (SETTINGS_INITIAL_WINDOW_SIZE 0, or no WINDOW_UPDATE) stops
 * every DATA frame, and the stream — with the response, its file or upstream
 * behind it — stays open for as long as the connection does. A hundred such
 * connections with a hundred streams each were held for as long as the client
 * liked. TCP-level stalls (a client that does not read the socket) end the
 * same way: the stream's writes stop completing.
 *
 * The cost stays off the request path: open responses sit in a set (one add
 * and one delete each); a sweep every `sendTimeout` arms Node's own stream
 * timeout only on those with output still waiting to go out. Node's timer is
 * pushed back by every frame the stream sends or receives and checks that
 * queued writes progressed, so a slow client that reads is never cut; one that
 * stays stalled is reset between one and two `sendTimeout`s after it stalled.
 */
import { constants, type ServerHttp2Stream } from 'node:http2';

interface OpenResponse {
  readonly stream: ServerHttp2Stream;
}

const open = new Set<OpenResponse>();
let timeoutMs = 0;

/** Starts the sweep for this worker (once; `ms` 0 leaves it off). */
export function enforceSendTimeout(ms: number): void {
  if (timeoutMs !== 0 || ms === 0) return;
  timeoutMs = ms;
  setInterval(sweep, ms).unref();
}

/** A response was created: watch it until it closes. */
export function watchResponse(res: OpenResponse): void {
  if (timeoutMs !== 0) open.add(res);
}

/** The response closed (sent, reset or abandoned). */
export function forgetResponse(res: OpenResponse): void {
  open.delete(res);
}

function sweep(): void {
  for (const res of open) {
    const stream = res.stream;
    if (stream === undefined || stream.destroyed) open.delete(res);
    else if (outputWaiting(stream)) {
      // From here Node's timer watches it; it comes back to the set if it goes idle before the timer fires.
      open.delete(res);
      stream.setTimeout(timeoutMs, () => onStalled(res, stream));
    }
  }
}

function onStalled(res: OpenResponse, stream: ServerHttp2Stream): void {
  if (stream.destroyed) return;
  stream.setTimeout(0);
  // Idle with nothing to send (an event stream between events, an app still thinking): not the client's doing.
  if (!outputWaiting(stream)) return void open.add(res);
  stream.close(constants.NGHTTP2_CANCEL);
}

/** Written and not yet taken by the client: queued writes, or an end whose last frame has not gone out. */
function outputWaiting(stream: ServerHttp2Stream): boolean {
  return stream.writableLength > 0 || (stream.writableEnded && !stream.writableFinished);
}
