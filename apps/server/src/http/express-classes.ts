import { IncomingMessage, ServerResponse, type ServerOptions } from 'node:http';
import type { Express } from 'express';

/**
 * The request and response classes node:http should build for this Express app: objects
 * born with the app's request/response prototypes. Express gives every request and
 * response those prototypes with `Object.setPrototypeOf`, and changing an object's
 * prototype after the fact throws V8 off its fast paths for everything node:http and
 * Express then do with it: about 100 us a request on the benchmark machine, more than
 * node:http's own cost. Born with the right prototype, Express's call changes nothing.
 *
 * Subclasses of node:http's own, whose prototypes take the place of the app's (they
 * inherit from them): V8 gives a subclass's instances one shared layout with room for
 * the base constructor's forty-odd properties inside the object. Plain functions calling
 * `IncomingMessage.call(this)` made objects with an empty function's layout, whose
 * properties overflowed into a separate store until the first property added under a
 * computed key (node:http's and Axon's symbols) turned them into hash tables; and with
 * `Reflect.construct` and a plain function as new.target every object got hidden classes
 * of its own. Either way 5-8 KB of heap more for each held poll.
 */
export function expressClasses(app: Express): Pick<ServerOptions, 'IncomingMessage' | 'ServerResponse'> {
  const known = classesOf.get(app);
  if (known) return known;
  class AxonRequest extends IncomingMessage {}
  Object.setPrototypeOf(AxonRequest.prototype, app.request);
  app.request = AxonRequest.prototype as unknown as Express['request'];
  class AxonResponse extends ServerResponse {}
  Object.setPrototypeOf(AxonResponse.prototype, app.response);
  app.response = AxonResponse.prototype as unknown as Express['response'];
  const classes = {
    IncomingMessage: AxonRequest,
    ServerResponse: AxonResponse as unknown as typeof ServerResponse,
  };
  classesOf.set(app, classes);
  return classes;
}

const classesOf = new WeakMap<Express, Pick<ServerOptions, 'IncomingMessage' | 'ServerResponse'>>();
