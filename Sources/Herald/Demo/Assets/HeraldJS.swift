/// The demo pages' assets, compiled into the binary so serving them never depends on files at run time.
enum DemoAssets {
    static let html = "text/html; charset=utf-8"
    static let css = "text/css; charset=utf-8"
    static let javascript = "text/javascript; charset=utf-8"
}

extension DemoAssets {
    /// `herald.js`: a small Engine.IO v4 / Socket.IO v5 browser client (default namespace, JSON only). See docs/demo.md.
    static let heraldJS = #"""
/* herald.js: a small Socket.IO v5 (Engine.IO v4) client for browsers. Default namespace, JSON payloads.
   Served by herald at /herald.js. API: docs/demo.md. */
(function (global) {
  "use strict";

  var RS = "\x1e"; // separates Engine.IO packets in a polling payload

  function Emitter() { this._handlers = {}; }
  Emitter.prototype.on = function (name, fn) { (this._handlers[name] = this._handlers[name] || []).push(fn); return this; };
  Emitter.prototype.off = function (name, fn) {
    var list = this._handlers[name];
    if (list) this._handlers[name] = fn ? list.filter(function (f) { return f !== fn; }) : [];
    return this;
  };
  Emitter.prototype._fire = function (name, args) {
    var list = (this._handlers[name] || []).slice();
    for (var i = 0; i < list.length; i++) {
      try { list[i].apply(this, args); } catch (e) { setTimeout(function () { throw e; }); }
    }
  };

  function query(params) {
    return Object.keys(params).map(function (k) { return encodeURIComponent(k) + "=" + encodeURIComponent(params[k]); }).join("&");
  }

  // ---- Engine.IO transports: each reports open(handshake), packet(type, data) and close(reason, opened). ----

  function WebSocketTransport(base, path) {
    Emitter.call(this);
    this.name = "websocket";
    var url = base.replace(/^http/, "ws") + path + "?" + query({ EIO: 4, transport: "websocket" });
    var self = this, opened = false;
    this._ws = new WebSocket(url);
    this._ws.onmessage = function (m) {
      if (typeof m.data !== "string") return; // binary frames are not used by herald.js
      var type = m.data.charAt(0), data = m.data.slice(1);
      if (type === "0") { opened = true; self._fire("open", [JSON.parse(data)]); } else self._fire("packet", [type, data]);
    };
    // Browsers fire error then close; some runtimes only error: report the first, once.
    var finished = false;
    function finish() { if (!finished) { finished = true; self._fire("close", ["transport close", opened]); } }
    this._ws.onclose = finish;
    this._ws.onerror = finish;
  }
  WebSocketTransport.prototype = Object.create(Emitter.prototype);
  WebSocketTransport.prototype.send = function (type, data) { if (this._ws.readyState === 1) this._ws.send(type + (data || "")); };
  WebSocketTransport.prototype.close = function () {
    this._ws.onclose = null; this._ws.onerror = null; this._ws.onmessage = null;
    try { this._ws.close(); } catch (e) {}
  };

  function PollingTransport(base, path) {
    Emitter.call(this);
    this.name = "polling";
    this._url = base + path;
    this._sid = null;
    this._closed = false;
    this._queue = [];
    this._posting = false;
    this._poll();
  }
  PollingTransport.prototype = Object.create(Emitter.prototype);
  PollingTransport.prototype._address = function () {
    var params = { EIO: 4, transport: "polling", t: Date.now().toString(36) + Math.random().toString(36).slice(2, 6) };
    if (this._sid) params.sid = this._sid;
    return this._url + "?" + query(params);
  };
  PollingTransport.prototype._fail = function (reason) {
    if (this._closed) return;
    this._closed = true;
    this._fire("close", [reason, this._sid !== null]);
  };
  PollingTransport.prototype._poll = function () {
    var self = this;
    if (this._closed) return;
    fetch(this._address(), { cache: "no-store" }).then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.text();
    }).then(function (text) {
      if (self._closed) return;
      var packets = text.split(RS);
      for (var i = 0; i < packets.length && !self._closed; i++) {
        var type = packets[i].charAt(0), data = packets[i].slice(1);
        if (type === "0") { var handshake = JSON.parse(data); self._sid = handshake.sid; self._fire("open", [handshake]); }
        else if (type === "1") { self._fail("transport close"); return; }
        else self._fire("packet", [type, data]);
      }
      self._poll();
    }).catch(function () { self._fail("transport error"); });
  };
  PollingTransport.prototype.send = function (type, data) {
    this._queue.push(type + (data || ""));
    this._flush();
  };
  PollingTransport.prototype._flush = function () {
    var self = this;
    if (this._posting || this._closed || !this._sid || this._queue.length === 0) return;
    var body = this._queue.join(RS);
    this._queue = [];
    this._posting = true;
    fetch(this._address(), { method: "POST", body: body, headers: { "Content-Type": "text/plain;charset=UTF-8" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        self._posting = false;
        self._flush();
      }).catch(function () { self._posting = false; self._fail("transport error"); });
  };
  PollingTransport.prototype.close = function () {
    if (this._closed) return;
    if (this._sid) this.send("1");
    this._closed = true;
  };

  // ---- The Socket.IO socket: one Engine.IO session, the default namespace, reconnection. ----

  var RESERVED = { connect: 1, connect_error: 1, disconnect: 1, connecting: 1, reconnecting: 1, state: 1 };

  /// HeraldSocket(url, options): url defaults to the page's origin. Options: auth ({token} or a function returning
  /// one or a Promise of one, called on every attempt), path ("/socket.io/"), transports (["websocket","polling"]),
  /// reconnection (true), reconnectionAttempts (Infinity), reconnectionDelay (1000), reconnectionDelayMax (5000),
  /// timeout (20000, per connection attempt), ackTimeout (10000), autoConnect (true).
  function HeraldSocket(url, options) {
    Emitter.call(this);
    options = options || {};
    this.url = (url || global.location.origin).replace(/\/$/, "");
    this.options = {
      path: options.path || "/socket.io/",
      auth: options.auth || null,
      transports: options.transports || ["websocket", "polling"],
      reconnection: options.reconnection !== false,
      reconnectionAttempts: options.reconnectionAttempts == null ? Infinity : options.reconnectionAttempts,
      reconnectionDelay: options.reconnectionDelay == null ? 1000 : options.reconnectionDelay,
      reconnectionDelayMax: options.reconnectionDelayMax == null ? 5000 : options.reconnectionDelayMax,
      timeout: options.timeout == null ? 20000 : options.timeout,
      ackTimeout: options.ackTimeout == null ? 10000 : options.ackTimeout
    };
    this.state = "disconnected";
    this.id = null;
    this.transport = null;  // "websocket" or "polling" while connected
    this._engine = null;
    this._attempt = 0;
    this._timer = null;
    this._heartbeat = null;
    this._nextAck = 0;
    this._acks = {};
    this._outbox = [];
    this._websocketFailed = false;
    // On the next tick, so the page can add its handlers (state, connecting) first.
    var self = this;
    if (options.autoConnect !== false) setTimeout(function () { if (self.state === "disconnected" && !self._closedByUser) self.connect(); }, 0);
  }
  HeraldSocket.prototype = Object.create(Emitter.prototype);

  HeraldSocket.prototype._setState = function (state, detail) {
    this.state = state;
    this._fire("state", [state, detail]);
  };

  HeraldSocket.prototype.connect = function () {
    if (this.state === "connected" || this.state === "connecting") return this;
    this._closedByUser = false;
    clearTimeout(this._timer);
    this._open();
    return this;
  };

  HeraldSocket.prototype._useWebSocket = function () {
    var t = this.options.transports;
    if (t.indexOf("websocket") < 0 || typeof WebSocket !== "function") return false;
    // After a websocket that never opened while polling worked, polling is used for the rest of the page's life.
    return !(this._websocketFailed && t.indexOf("polling") >= 0);
  };

  HeraldSocket.prototype._open = function () {
    var self = this;
    this._setState("connecting");
    this._fire("connecting", [this._attempt]);
    var ws = this._useWebSocket(), opened = false;
    clearTimeout(this._attemptTimer);
    // An attempt that hangs (a proxy that never answers) counts as failed after `timeout`.
    this._attemptTimer = setTimeout(function () {
      if (engine !== self._engine || self.state === "connected") return;
      if (ws && !opened && self.options.transports.indexOf("polling") >= 0) { fallBack(); return; }
      self._lost("connect timeout");
    }, this.options.timeout);
    function fallBack() {
      // The websocket could not open (blocked by a proxy, or refused): fall back to long-polling at once.
      self._websocketFailed = true;
      self._fellBack = true;
      engine.close();
      self._engine = null;
      self._open();
    }
    var engine = ws ? new WebSocketTransport(this.url, this.options.path) : new PollingTransport(this.url, this.options.path);
    this._engine = engine;
    engine.on("open", function (handshake) {
      if (engine !== self._engine) return;
      opened = true;
      self._pingInterval = handshake.pingInterval;
      self._pingTimeout = handshake.pingTimeout;
      self._armHeartbeat();
      Promise.resolve(typeof self.options.auth === "function" ? self.options.auth() : self.options.auth)
        .then(function (auth) { if (engine === self._engine) engine.send("4", "0" + (auth ? JSON.stringify(auth) : "")); })
        .catch(function (error) { self._lost("auth error", { message: String(error && error.message || error) }); });
    });
    engine.on("packet", function (type, data) { if (engine === self._engine) self._onEnginePacket(type, data); });
    engine.on("close", function (reason, opened) {
      if (engine !== self._engine) return;
      if (ws && !opened && self.options.transports.indexOf("polling") >= 0) { fallBack(); return; }
      self._lost(reason);
    });
  };

  HeraldSocket.prototype._armHeartbeat = function () {
    var self = this;
    clearTimeout(this._heartbeat);
    // The server pings every pingInterval; silence for longer than pingInterval + pingTimeout means it is gone.
    this._heartbeat = setTimeout(function () { self._lost("ping timeout"); }, this._pingInterval + this._pingTimeout);
  };

  HeraldSocket.prototype._onEnginePacket = function (type, data) {
    if (type === "2") { this._armHeartbeat(); this._engine.send("3"); return; } // ping → pong
    if (type === "1") { this._lost("transport close"); return; }
    if (type !== "4") return; // noop, pong: nothing to do
    this._onSocketPacket(data);
  };

  HeraldSocket.prototype._onSocketPacket = function (text) {
    var type = text.charAt(0), rest = text.slice(1);
    if (rest.charAt(0) === "/") return; // another namespace: herald.js speaks the default one only
    var match = /^(\d*)([\s\S]*)$/.exec(rest), id = match[1], payload = match[2] ? JSON.parse(match[2]) : undefined;
    switch (type) {
      case "0": // CONNECT answer
        this.id = payload && payload.sid;
        this.transport = this._engine.name;
        this._attempt = 0;
        clearTimeout(this._attemptTimer);
        this._fellBack = false;
        this._setState("connected", { transport: this.transport });
        this._fire("connect", []);
        var outbox = this._outbox; this._outbox = [];
        for (var i = 0; i < outbox.length; i++) this._engine.send("4", outbox[i]);
        break;
      case "4": // CONNECT_ERROR {message, data}: refused, as socket.io-client does not retry (connect() may)
        var error = new Error(payload && payload.message || "connect error");
        error.data = payload && payload.data;
        this._end("connect error", error);
        this._fire("connect_error", [error]);
        break;
      case "1": // DISCONNECT: the server put this socket out (disconnectSockets); for good, as in socket.io-client
        this._end("io server disconnect");
        this._fire("disconnect", ["io server disconnect"]);
        break;
      case "2": // EVENT [name, ...args]
        var args = payload || [], self = this;
        if (id !== "") {
          args.push(function () { self._send("3" + id + JSON.stringify(Array.prototype.slice.call(arguments))); });
        }
        this._fire(args[0], args.slice(1));
        break;
      case "3": // ACK
        var pending = this._acks[id];
        if (pending) { delete this._acks[id]; clearTimeout(pending.timer); pending.resolve(payload); }
        break;
    }
  };

  HeraldSocket.prototype._send = function (packet) {
    if (this.state === "connected" && this._engine) this._engine.send("4", packet);
    else this._outbox.push(packet); // sent once (re)connected
  };

  /// emit(event, ...args): fire and forget; buffered while not connected.
  HeraldSocket.prototype.emit = function (name) {
    if (RESERVED[name]) throw new Error("\"" + name + "\" is a reserved event name");
    this._send("2" + JSON.stringify(Array.prototype.slice.call(arguments)));
    return this;
  };

  /// emitWithAck(event, ...args): a Promise of the server's first acknowledgement argument; rejects after ackTimeout.
  HeraldSocket.prototype.emitWithAck = function (name) {
    var self = this, args = Array.prototype.slice.call(arguments), id = String(this._nextAck++);
    if (RESERVED[name]) return Promise.reject(new Error("\"" + name + "\" is a reserved event name"));
    return new Promise(function (resolve, reject) {
      var timer = setTimeout(function () {
        delete self._acks[id];
        reject(new Error("no acknowledgement for \"" + name + "\" within " + self.options.ackTimeout + " ms"));
      }, self.options.ackTimeout);
      self._acks[id] = { resolve: function (values) { resolve(values && values[0]); }, timer: timer };
      self._send("2" + id + JSON.stringify(args));
    });
  };

  /// Closes for good: no reconnection.
  HeraldSocket.prototype.disconnect = function () {
    clearTimeout(this._timer);
    this._closedByUser = true;
    var wasConnected = this.state === "connected";
    if (this._engine) { if (wasConnected) this._engine.send("4", "1"); this._engine.close(); }
    this._teardown();
    this._setState("disconnected", { reason: "io client disconnect" });
    if (wasConnected) this._fire("disconnect", ["io client disconnect"]);
    return this;
  };

  /// Ends without reconnection (the server refused or disconnected the socket); connect() starts again.
  HeraldSocket.prototype._end = function (reason, error) {
    clearTimeout(this._timer);
    this._attempt = 0;
    this._teardown();
    this._setState("disconnected", { reason: reason, error: error });
  };

  HeraldSocket.prototype._teardown = function () {
    clearTimeout(this._heartbeat);
    clearTimeout(this._attemptTimer);
    var engine = this._engine;
    this._engine = null;
    if (engine) engine.close();
    this.id = null;
    this.transport = null;
  };

  /// The connection is gone (or never came): tell the page, then retry with exponential backoff and full jitter.
  HeraldSocket.prototype._lost = function (reason, error) {
    var wasConnected = this.state === "connected";
    if (!this._engine && this.state !== "connecting") return;
    this._teardown();
    // Polling failed too: the server is away, not the websocket blocked; try the websocket again next time.
    if (!wasConnected && this._fellBack) { this._websocketFailed = false; this._fellBack = false; }
    if (wasConnected) this._fire("disconnect", [reason]);
    if (!wasConnected) {
      var failure = new Error(reason);
      this._fire("connect_error", [failure]);
    }
    var o = this.options;
    if (!o.reconnection || this._attempt >= o.reconnectionAttempts) {
      this._setState("disconnected", { reason: reason, error: error });
      return;
    }
    // Full jitter: a random delay up to min(max, base · 2^attempt), so many clients do not return at once.
    var ceiling = Math.min(o.reconnectionDelayMax, o.reconnectionDelay * Math.pow(2, this._attempt));
    var delay = Math.floor(Math.random() * ceiling);
    this._attempt += 1;
    this._setState("reconnecting", { attempt: this._attempt, delay: delay, reason: reason, error: error });
    this._fire("reconnecting", [this._attempt, delay]);
    var self = this;
    this._timer = setTimeout(function () { self._open(); }, delay);
  };

  global.HeraldSocket = HeraldSocket;
  global.herald = function (url, options) { return new HeraldSocket(url, options); };
})(typeof window !== "undefined" ? window : this);
"""#
}
