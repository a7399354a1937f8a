import { EventEmitter } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { operationTable, type OperationId } from '@axon/contract';
import type { ErrorRequestHandler, NextFunction, Request, Response } from 'express';
import { describe, expect, it } from 'vitest';
import { errors } from '../errors.js';
import type { AppContext } from './context.js';
import type { Handler } from './handler.js';
import { callHandler, composeChain } from './router.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const op = operationTable.find((o) => o.operationId === 'getEvents')!;

/** Just what a handler that has not answered yet touches of a request and a response. */
function exchange(): { req: Request; res: Response } {
  const res = Object.assign(new EventEmitter(), { locals: {}, writableFinished: false }) as unknown as Response;
  const req = { params: {}, headers: {} } as unknown as Request;
  return { req, res };
}

/** A handler that waits until told how to end: as a long-poll does. */
function waitingHandler(): { handler: Handler<OperationId>; end: (err: unknown) => void } {
  let end!: (err: unknown) => void;
  const gate = new Promise<never>((_resolve, reject) => { end = reject; });
  return { handler: () => gate, end };
}

async function collected(ref: WeakRef<object>): Promise<boolean> {
  for (let i = 0; i < 5 && ref.deref() !== undefined; i++) {
    await new Promise((r) => setImmediate(r));
    gc();
  }
  return ref.deref() === undefined;
}

describe('callHandler', () => {
  it('keeps nothing of the chain that called it while its handler waits', async () => {
    const { handler, end } = waitingHandler();
    const failures: unknown[] = [];
    const fail: ErrorRequestHandler = (err) => { failures.push(err); };
    const { req, res } = exchange();
    // Express's `next` for the request: the chain's done, and req.next as the router sets it
    let done: NextFunction | undefined = () => {};
    const ref = new WeakRef(done);
    req.next = done;
    composeChain([callHandler(op, handler, {} as AppContext, fail)])(req, res, done);
    done = undefined;
    expect(await collected(ref)).toBe(true);
    expect(req.next).toBeUndefined();

    // and a failure still reaches the error handler, with this request and response
    const err = errors.forbidden('no');
    end(err);
    await new Promise((r) => setImmediate(r));
    expect(failures).toEqual([err]);
  });

  it('sends a handler that throws before it returns a promise to the error handler', () => {
    const failures: unknown[] = [];
    const fail: ErrorRequestHandler = (err, _req, res) => { failures.push([err, res]); };
    const { req, res } = exchange();
    const err = errors.missingToken();
    callHandler(op, () => { throw err; }, {} as AppContext, fail)(req, res, () => {});
    expect(failures).toEqual([[err, res]]);
  });

  it('ends the exchange when the error handler itself throws', async () => {
    const { handler, end } = waitingHandler();
    const fail: ErrorRequestHandler = () => { throw new Error('cannot write'); };
    const { req, res } = exchange();
    let destroyed = 0;
    (res as unknown as { destroy: () => void }).destroy = () => { destroyed++; };
    callHandler(op, handler, {} as AppContext, fail)(req, res, () => {});
    end(new Error('handler failed'));
    await new Promise((r) => setImmediate(r));
    expect(destroyed).toBe(1);
  });
});
