// The bench's ceiling: what a bare node:http server on this machine answers per second
// for the same request shape as Axon's send (a small JSON body in, a small JSON body out).
import http from 'node:http';

const BODY = JSON.stringify({ event_id: '$0123456789abcdefghijklmn:bench.local' });
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY) });
    res.end(BODY);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => console.log(`http://127.0.0.1:${server.address().port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
