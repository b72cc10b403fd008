// Starts @20minutes/s3rver on loopback and prints "READY <port>" once it
// listens. Usage: node serve.js DIR [PORT] [BUCKET...]
// PORT 0 (the default) picks a free port. Stops on SIGTERM/SIGINT or when its
// parent closes stdin, so a crashed test leaves no server behind.
'use strict';
const S3rver = require('@20minutes/s3rver');

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
