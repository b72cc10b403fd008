// bench/burst's throttling proxy: forwards HTTP requests to the local S3-API
// server and answers S3's "503 SlowDown" (status and XML error body) to every
// request above RATE per second, like S3 does above ~5,500 GET/HEAD per second
// per prefix. A token bucket: RATE tokens a second, at most RATE/10 saved up
// (100 ms of burst), so a burst is throttled at once rather than after a
// second's allowance. Loopback only.
//   node proxy.js UPSTREAM_PORT RATE COUNTS_FILE
// Prints "READY <port>". On SIGTERM writes its counts
// to COUNTS_FILE as "key value" lines and exits:
//   requests  every request received        slowdowns  503 SlowDown answered
//   heads / gets  requests by method        retries    requests whose
//   (client access key, method, path, range) was seen before: a client's retry
//   unique     requests that were not retries
'use strict';
const http = require('http');
const fs = require('fs');

const [upPortArg, rateArg, countsFile] = process.argv.slice(2);
if (!upPortArg || !rateArg || !countsFile) {
  console.error('usage: node proxy.js UPSTREAM_PORT RATE COUNTS_FILE');
  process.exit(2);
}
const upPort = Number(upPortArg);
const rate = Number(rateArg);
const capacity = Math.max(1, rate / 10);
let tokens = capacity;
let last = process.hrtime.bigint();
const counts = { requests: 0, slowdowns: 0, heads: 0, gets: 0, retries: 0, unique: 0, upstream_errors: 0 };
const seen = new Set();
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

function take() {
  const now = process.hrtime.bigint();
  tokens = Math.min(capacity, tokens + (Number(now - last) / 1e9) * rate);
  last = now;
  if (tokens >= 1) {
    tokens -= 1;
    return true;
  }
  return false;
}

function clientKey(req) {
  const m = /Credential=([^/]+)\//.exec(req.headers.authorization || '');
  return m ? m[1] : '-';
}

let nextId = 0;
const server = http.createServer((req, res) => {
  counts.requests++;
  if (req.method === 'HEAD') counts.heads++;
  else if (req.method === 'GET') counts.gets++;
  const key = `${clientKey(req)} ${req.method} ${req.url} ${req.headers.range || '-'}`;
  if (seen.has(key)) counts.retries++;
  else {
    seen.add(key);
    counts.unique++;
  }
  if (!take()) {
    counts.slowdowns++;
    const body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>' +
      '<Message>Please reduce your request rate.</Message>' +
      `<RequestId>BURST${(nextId++).toString(16).toUpperCase()}</RequestId></Error>`;
    req.resume();
    res.writeHead(503, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
    return;
  }
  const up = http.request({ host: '127.0.0.1', port: upPort, method: req.method, path: req.url,
                            headers: req.headers, agent }, (ur) => {
    res.writeHead(ur.statusCode, ur.headers);
    ur.pipe(res);
  });
  up.on('error', () => {
    counts.upstream_errors++;
    res.destroy();
  });
  req.pipe(up);
});
server.keepAliveTimeout = 5000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`READY ${server.address().port}\n`));

const stop = () => {
  fs.writeFileSync(countsFile, Object.entries(counts).map(([k, v]) => `${k} ${v}`).join('\n') + '\n');
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
