// Stands in for Lambda's /var/runtime/index.mjs (its bundled Node.js runtime
// interface client, not published as such; the npm package, aws-lambda-ric,
// takes the handler as an argument instead): like it, it takes the handler from $_HANDLER
// ("file.function", the file under LAMBDA_TASK_ROOT), loads it with require()
// (CommonJS) and serves the Runtime API with node:http.
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';

const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(':');
const base = '/2018-06-01/runtime';

function call(method, urlPath, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, method, path: base + urlPath, headers }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (data += c));
      res.on('end', () => resolve({ headers: res.headers, body: data }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const handlerSpec = process.env._HANDLER;
const dot = handlerSpec.lastIndexOf('.');
const taskRoot = process.env.LAMBDA_TASK_ROOT;
let fn;
try {
  const require = createRequire(path.join(taskRoot, 'index.mjs'));
  fn = require(path.resolve(taskRoot, handlerSpec.slice(0, dot)))[handlerSpec.slice(dot + 1)];
  if (typeof fn !== 'function') throw new Error(`${handlerSpec} is undefined or not exported`);
} catch (e) {
  await call('POST', '/init/error', JSON.stringify({ errorType: e.name, errorMessage: e.message }),
             { 'Lambda-Runtime-Function-Error-Type': 'Runtime.ImportModuleError' });
  process.exit(1);
}

for (;;) {
  const next = await call('GET', '/invocation/next');
  const id = next.headers['lambda-runtime-aws-request-id'];
  try {
    const result = await fn(JSON.parse(next.body || 'null'), {});
    await call('POST', `/invocation/${id}/response`, JSON.stringify(result));
  } catch (e) {
    await call('POST', `/invocation/${id}/error`, JSON.stringify({ errorType: e.name, errorMessage: e.message }));
  }
}
