// The bench's ceiling: what a bare node:http server on this machine answers per second
// for the same request shape as Axon's send (a small JSON body in, a small JSON body out).
// It is also the floor of the send-to-receive exchange: a GET of /events waits for the
// next PUT, and both are answered when it arrives, as a homeserver doing no work would.
import http from 'node:http';

const BODY = JSON.stringify({ event_id: '$0123456789abcdefghijklmn:bench.local' });
const EVENTS = JSON.stringify({ start: 's0', end: 's1', chunk: [{ event_id: '$0123456789abcdefghijklmn:bench.local', type: 'm.room.message', content: { msgtype: 'm.text', body: 'ping' } }] });
const answer = (res, body) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
};
let parked = [];
// a send no poll has seen yet (its poll arrived late): the next poll answers at once, as
// Axon's would from its `from` token
let unseen = false;
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    if (req.method === 'GET' && req.url.startsWith('/_matrix/client/api/v1/events')) {
      if (unseen) {
        unseen = false;
        answer(res, EVENTS);
      } else {
        parked.push(res);
      }
      return;
    }
    answer(res, BODY);
    const woken = parked;
    parked = [];
    unseen = woken.length === 0;
    for (const poll of woken) answer(poll, EVENTS);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => console.log(`http://127.0.0.1:${server.address().port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
