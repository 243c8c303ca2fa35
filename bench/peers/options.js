// Command-line options shared by the Node peers of bench/compare.sh (node/server.js, socketio/server.js):
// --host, --port, --ping-interval and --ping-timeout, with the defaults of `herald bench-server`.
'use strict';

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

module.exports = {
  HOST: option('--host', '127.0.0.1'),
  PORT: Number(option('--port', 3300)),
  PING_INTERVAL: Number(option('--ping-interval', 25000)),
  PING_TIMEOUT: Number(option('--ping-timeout', 20000)),
};
