// The reference socket.io peer for bench/compare.sh: socket.io 4.8.3 / engine.io 6.6.9 as built by build.sh
// (from a socketio/socket.io snapshot, not shipped here), with the bench-server handlers of `herald bench-server`
// and bench/peers/node/server.js:
//   CONNECT auth {"room": R}     -> join room R
//   EVENT broadcast P (ack id)   -> io.emit("broadcast", P), then ack [P]
//   EVENT echo ...args (ack id)  -> ack args
//   EVENT fanout P               -> io.to("fanout").emit("tick", P)
// socket.io's defaults otherwise (transports polling + websocket, no per-message deflate, maxHttpBufferSize 1 MB).
//
// Usage: bench/peers/socketio/build.sh SRC, then
//   NODE_PATH=/usr/share/nodejs node server.js [--host 127.0.0.1] [--port 3300] [--ping-interval 25000]
'use strict';

const http = require('http');
const path = require('path');

const { HOST, PORT, PING_INTERVAL, PING_TIMEOUT } = require(path.join(__dirname, '..', 'options.js'));

let Server;
try {
  ({ Server } = require(path.join(__dirname, 'build', 'node_modules', 'socket.io')));
} catch (e) {
  console.error(`socket.io is not built: run bench/peers/socketio/build.sh SRC first (${e.message})`);
  process.exit(1);
}

const httpServer = http.createServer();
const io = new Server(httpServer, { pingInterval: PING_INTERVAL, pingTimeout: PING_TIMEOUT, serveClient: false });

// Splits the acknowledgement callback (present when the packet carried an ack id) from the event's arguments.
function split(args) {
  return typeof args[args.length - 1] === 'function' ? [args.slice(0, -1), args[args.length - 1]] : [args, null];
}

io.on('connection', (socket) => {
  const room = socket.handshake.auth && socket.handshake.auth.room;
  if (typeof room === 'string') socket.join(room);
  socket.on('broadcast', (...received) => {
    const [args, ack] = split(received);
    io.emit('broadcast', args[0] === undefined ? null : args[0]);
    if (ack) ack(...args);
  });
  socket.on('echo', (...received) => {
    const [args, ack] = split(received);
    if (ack) ack(...args);
  });
  socket.on('fanout', (...received) => {
    const [args] = split(received);
    io.to('fanout').emit('tick', args[0] === undefined ? null : args[0]);
  });
});

httpServer.listen(PORT, HOST, 4096, () => console.log(`socket.io peer listening on ${HOST}:${PORT}`));
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
