// The Node.js peer for bench/compare.sh: Debian's `ws` package (no npm) speaking Engine.IO v4 (websocket
// transport only) and the Socket.IO v5 packets `herald bench` uses, with the bench-server handlers:
//   CONNECT auth {"room": R}     -> join room R
//   EVENT broadcast P (ack id)   -> emit ["broadcast", P] to every connected socket, then ack [P]
//   EVENT echo ...args (ack id)  -> ack args
//   EVENT fanout P               -> emit ["tick", P] to room "fanout"
// A packet for many sockets is encoded once into a Buffer and handed to every socket's send().
//
// Usage: NODE_PATH=/usr/share/nodejs node server.js [--host 127.0.0.1] [--port 3300] [--ping-interval 25000]
'use strict';

const http = require('http');
const path = require('path');
const crypto = require('crypto');
const { WebSocketServer } = require('ws');

const { HOST, PORT, PING_INTERVAL, PING_TIMEOUT } = require(path.join(__dirname, '..', 'options.js'));
const MAX_PAYLOAD = 1e6;

const connected = new Map();   // sid -> socket (joined to "/")
const rooms = new Map();       // room -> Set of sockets

function emit(packet, members) {
  const frame = Buffer.from(packet);
  for (const socket of members) socket.ws.send(frame, { binary: false });
}

function join(socket, room) {
  let members = rooms.get(room);
  if (!members) rooms.set(room, (members = new Set()));
  members.add(socket);
  socket.rooms.add(room);
}

function leaveAll(socket) {
  connected.delete(socket.sid);
  for (const room of socket.rooms) {
    const members = rooms.get(room);
    members.delete(socket);
    if (members.size === 0) rooms.delete(room);
  }
  socket.rooms.clear();
}

// Socket.IO packet after its type digit: ["/nsp,"] [ack id] [JSON]
function parseBody(body) {
  let i = 0;
  let nsp = '/';
  if (body[0] === '/') {
    const comma = body.indexOf(',');
    nsp = comma < 0 ? body : body.slice(0, comma);
    i = comma < 0 ? body.length : comma + 1;
  }
  let start = i;
  while (i < body.length && body.charCodeAt(i) >= 48 && body.charCodeAt(i) <= 57) i++;
  const ack = i > start ? Number(body.slice(start, i)) : undefined;
  const json = body.slice(i);
  return { nsp, ack, data: json.length ? JSON.parse(json) : undefined };
}

const handlers = {
  broadcast(socket, args, ack) {
    emit('42' + JSON.stringify(['broadcast', args[0]]), connected.values());
    if (ack !== undefined) socket.send('43' + ack + JSON.stringify(args));
  },
  echo(socket, args, ack) {
    if (ack !== undefined) socket.send('43' + ack + JSON.stringify(args));
  },
  fanout(socket, args) {
    emit('42' + JSON.stringify(['tick', args[0]]), rooms.get('fanout') || []);
  },
};

function onSocketIOPacket(socket, text) {
  const type = text[0];
  let packet;
  try {
    packet = parseBody(text.slice(1));
  } catch (e) {
    return socket.ws.close(1003);
  }
  if (packet.nsp !== '/') {
    if (type === '0') socket.send('44' + packet.nsp + ',{"message":"Invalid namespace"}');
    return;
  }
  switch (type) {
    case '0': { // CONNECT
      socket.send('40' + JSON.stringify({ sid: socket.sid }));
      connected.set(socket.sid, socket);
      const room = packet.data && packet.data.room;
      if (typeof room === 'string') join(socket, room);
      break;
    }
    case '1': // DISCONNECT
      leaveAll(socket);
      break;
    case '2': { // EVENT
      const data = packet.data;
      if (!Array.isArray(data) || typeof data[0] !== 'string') return;
      const handler = handlers[data[0]];
      if (handler) handler(socket, data.slice(1), packet.ack);
      break;
    }
  }
}

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: MAX_PAYLOAD });

wss.on('connection', (ws) => {
  const socket = {
    ws,
    sid: crypto.randomBytes(15).toString('base64url'),
    rooms: new Set(),
    pingTimer: null,
    timeoutTimer: null,
    send(text) { ws.send(text); },
  };
  const schedulePing = () => {
    socket.pingTimer = setTimeout(() => {
      socket.send('2');
      socket.timeoutTimer = setTimeout(() => ws.terminate(), PING_TIMEOUT);
    }, PING_INTERVAL);
  };
  socket.send('0' + JSON.stringify({
    sid: socket.sid, upgrades: [], pingInterval: PING_INTERVAL, pingTimeout: PING_TIMEOUT, maxPayload: MAX_PAYLOAD,
  }));
  schedulePing();

  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    const text = data.toString();
    switch (text[0]) {
      case '3': // pong
        clearTimeout(socket.timeoutTimer);
        schedulePing();
        break;
      case '4':
        onSocketIOPacket(socket, text.slice(1));
        break;
      case '1':
        ws.close();
        break;
    }
  });
  ws.on('close', () => {
    clearTimeout(socket.pingTimer);
    clearTimeout(socket.timeoutTimer);
    leaveAll(socket);
  });
  ws.on('error', () => {});
});

const server = http.createServer((req, res) => {
  res.writeHead(400, { 'content-type': 'application/json' });
  res.end('{"code":3,"message":"Bad request"}');
});

server.on('upgrade', (req, sock, head) => {
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname !== '/socket.io/' || url.searchParams.get('EIO') !== '4' ||
      url.searchParams.get('transport') !== 'websocket') {
    sock.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, sock, head, (ws) => wss.emit('connection', ws, req));
});

server.listen(PORT, HOST, 4096, () => console.log(`node-peer listening on ${HOST}:${PORT}`));
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
