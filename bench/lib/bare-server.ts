// The limit of the machine: a bare node:http server answering every request with
// the same ~1 KiB JSON body. Started in its own process by the benchmarks:
//   node --import tsx bench/lib/bare-server.ts <port>
import http from 'node:http';

const port = Number(process.argv[2] ?? 0);
const doc = {
  version: {
    id: 'v3.14',
    status: 'stable',
    updated: '2020-04-07T00:00:00Z',
    links: [{ rel: 'self', href: `http://127.0.0.1:${port}/v3/` }],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' }],
  },
  padding: '',
};
let body = JSON.stringify(doc);
doc.padding = 'x'.repeat(Math.max(0, 1024 - body.length));
body = JSON.stringify(doc);
const buf = Buffer.from(body);

const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': buf.length });
    res.end(buf);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(
    `listening on 127.0.0.1:${(server.address() as { port: number }).port}, body ${buf.length} bytes\n`,
  );
});
process.on('SIGTERM', () => process.exit(0));
