/**
 * The request and response handlers receive. Over HTTP/2 these are Node's
 * compatibility objects (Http2ServerRequest/Response), which mirror this API;
 * the TLS listener passes them in as these types.
 *
 * A leaf module: the modules the request context is made of (client.ts …) name
 * these types without importing the context itself.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export type NodeRequest = IncomingMessage;
export type NodeResponse = ServerResponse;
