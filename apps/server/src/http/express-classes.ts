import { IncomingMessage, ServerResponse, type ServerOptions } from 'node:http';
import type { Express } from 'express';

/**
 * The request and response classes node:http should build for this Express app: objects
 * born with the app's request/response prototypes. Express gives every request and
 * response those prototypes with `Object.setPrototypeOf`, and changing an object's
 * prototype after the fact throws V8 off its fast paths for everything node:http and
 * Express then do with it: about 100 us a request on the benchmark machine, more than
 * node:http's own cost. Born with the right prototype, Express's call changes nothing.
 */
export function expressClasses(app: Express): Pick<ServerOptions, 'IncomingMessage' | 'ServerResponse'> {
  // Function constructors, as node:http's own are, so that `prototype` can be the app's.
  function AxonRequest(this: IncomingMessage, socket: ConstructorParameters<typeof IncomingMessage>[0]): void {
    IncomingMessage.call(this, socket);
  }
  AxonRequest.prototype = app.request;
  function AxonResponse(this: ServerResponse, req: IncomingMessage, options?: unknown): void {
    (ServerResponse as unknown as (this: ServerResponse, req: IncomingMessage, options?: unknown) => void).call(this, req, options);
  }
  AxonResponse.prototype = app.response;
  return {
    IncomingMessage: AxonRequest as unknown as typeof IncomingMessage,
    ServerResponse: AxonResponse as unknown as typeof ServerResponse,
  };
}
