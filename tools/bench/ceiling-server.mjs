// The bench's ceiling: what a bare node:http server on this machine answers per second
// for the same request shape as Axon's send (a small JSON body in, a small JSON body out).
// It is also the floor of the send-to-receive exchange: a GET of /events from the current
// token waits for the next PUT, and both are answered when it arrives, as a homeserver
// doing no work would; with 10,000 such polls held, the floor of the fan-out scenario
// (GET /_bench/parked counts them). As with Axon, a poll from an older token answers at once.
import http from 'node:http';

const BODY = JSON.stringify({ event_id: '$0123456789abcdefghijklmn:bench.local' });
const eventsBody = (token) => JSON.stringify({ start: 's0', end: token, chunk: [{ event_id: '$0123456789abcdefghijklmn:bench.local', type: 'm.room.message', content: { msgtype: 'm.text', body: 'ping' } }] });
const answer = (res, body) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
};
let sends = 0;
// a Set: 10,000 held polls closing one by one must not each scan the rest
let parked = new Set();
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    if (req.method === 'GET' && req.url === '/_bench/parked') {
      answer(res, JSON.stringify({ parked: parked.size }));
      return;
    }
    if (req.method === 'GET' && req.url.startsWith('/_matrix/client/api/v1/events')) {
      const token = `s${sends}`;
      if (new URL(req.url, 'http://x').searchParams.get('from') !== token) {
        answer(res, eventsBody(token));
        return;
      }
      const waiting = parked;
      waiting.add(res);
      // a client that leaves is no longer waiting
      res.on('close', () => { waiting.delete(res); });
      return;
    }
    sends++;
    answer(res, BODY);
    if (parked.size === 0) return;
    const woken = parked;
    parked = new Set();
    const body = eventsBody(`s${sends}`);
    for (const poll of woken) answer(poll, body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => console.log(`http://127.0.0.1:${server.address().port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
