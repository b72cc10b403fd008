// The function's handler: its native addon is in the tmpdump the exec wrapper
// unpacked (TMPDUMP_ROOT), with the library the addon needs in its lib/.
const addon = require(process.env.TMPDUMP_ROOT + '/nodejs/greet.node');

exports.handler = async (event) => ({
  addon: addon.greeting(),
  argv: process.argv,
  execArgv: process.execArgv,
  nodePath: process.env.NODE_PATH,
  execEnv: process.env.AWS_EXECUTION_ENV,
  event,
});
