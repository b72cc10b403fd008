// Starts @20minutes/s3rver on loopback and prints "READY <port>" once it
// listens. Usage: node serve.js DIR [PORT] [BUCKET...]
// PORT 0 (the default) picks a free port. Stops on SIGTERM/SIGINT, or when
// stdin closes if S3SERVER_WATCH_STDIN=1, so a crashed test leaves no server.
// Environment:
//   S3SERVER_KEYS=ID:SECRET[,ID:SECRET]  extra credentials it accepts (besides S3RVER/S3RVER)
//   S3SERVER_LOG=FILE                    appends "METHOD PATH RANGE" per request, for tests
//                                        that check what was transferred
'use strict';
const fs = require('fs');
const S3rver = require('@20minutes/s3rver');
const { DUMMY_ACCOUNT } = require('@20minutes/s3rver/lib/models/account');

for (const pair of (process.env.S3SERVER_KEYS || '').split(',').filter(Boolean)) {
  const i = pair.indexOf(':');
  DUMMY_ACCOUNT.createKeyPair(pair.slice(0, i), pair.slice(i + 1));
}

const [directory, portArg = '0', ...buckets] = process.argv.slice(2);
if (!directory) {
  console.error('usage: node serve.js DIR [PORT] [BUCKET...]');
  process.exit(2);
}
const server = new S3rver({
  port: Number(portArg),
  address: '127.0.0.1',
  directory,
  silent: true,
  configureBuckets: (buckets.length ? buckets : ['dumps']).map((name) => ({ name })),
});
server.run().then(
  (addr) => {
    const log = process.env.S3SERVER_LOG;
    if (log) {
      server.httpServer.prependListener('request', (req) => {
        fs.appendFileSync(log, `${req.method} ${req.url} ${req.headers.range || '-'}\n`);
      });
    }
    process.stdout.write(`READY ${addr.port}\n`);
  },
  (err) => {
    console.error(`s3server: ${err.message}`);
    process.exit(1);
  },
);
const stop = () => server.close().finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
if (process.env.S3SERVER_WATCH_STDIN === '1') {
  process.stdin.on('end', stop);
  process.stdin.resume();
}
