import { IncomingMessage, ServerResponse, type ServerOptions } from 'node:http';
import type { Express } from 'express';
import { ResponseLocals } from './response-locals.js';

/** Headers every response carries: [name, value]. */
export type StandingHeaders = readonly (readonly [string, string])[];

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
 *
 * `standing` headers (CORS) are set as a response's head is written rather than when the
 * request arrives: node:http keeps a response's headers in a null-prototype object, a hash
 * table in V8, which a long-poll would otherwise hold (about 270 bytes) for as long as it
 * waits. A header the response set itself is left as it is.
 */
export function expressClasses(app: Express, standing: StandingHeaders = []): Pick<ServerOptions, 'IncomingMessage' | 'ServerResponse'> {
  const known = classesOf.get(app);
  if (known) return known;
  class AxonRequest extends IncomingMessage {}
  Object.setPrototypeOf(AxonRequest.prototype, app.request);
  app.request = AxonRequest.prototype as unknown as Express['request'];
  class AxonResponse extends ServerResponse {
    locals = new ResponseLocals();

    // node:http's own implicit head (a write or end before writeHead) comes through here too
    override writeHead(...args: unknown[]): this {
      if (!this.headersSent) {
        for (const [name, value] of standing) if (!this.hasHeader(name)) this.setHeader(name, value);
      }
      return (super.writeHead as (...a: unknown[]) => this).apply(this, args);
    }
  }
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
