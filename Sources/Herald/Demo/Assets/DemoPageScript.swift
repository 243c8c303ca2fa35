extension DemoAssets {
    /// `/demo/demo.js`: what every demo page does the same way (user, token, connection, status badge).
    static let pageScript = #"""
(function () {
  "use strict";
  var params = new URLSearchParams(location.search);

  window.Demo = {
    /// ?user=… (default `fallback`), ?transport=polling forces long-polling.
    user: function (fallback) { return params.get("user") || fallback; },

    el: function (tag, attributes, text) {
      var node = document.createElement(tag);
      for (var key in attributes || {}) node.setAttribute(key, attributes[key]);
      if (text != null) node.textContent = text;
      return node;
    },

    time: function (date) { return (date || new Date()).toLocaleTimeString([], { hour12: false }); },

    /// Connects as `user`; a fresh token is fetched on every attempt, so a reconnect never uses an expired one.
    /// onSession gets the token endpoint's answer (orders, chat room, …) each time.
    connect: function (user, onSession) {
      var transport = params.get("transport");
      var socket = herald(location.origin, {
        transports: transport ? [transport] : ["websocket", "polling"],
        auth: function () {
          return fetch("/demo/token?user=" + encodeURIComponent(user), { cache: "no-store" })
            .then(function (response) { return response.json(); })
            .then(function (session) {
              if (session.error) throw new Error(session.error.message);
              if (onSession) onSession(session);
              return { token: session.token };
            });
        }
      });
      document.querySelectorAll("[data-user]").forEach(function (node) { node.textContent = user; });
      var badge = document.getElementById("status"), errors = document.getElementById("error");
      socket.on("state", function (state, detail) {
        badge.dataset.state = state;
        badge.dataset.transport = socket.transport || "";
        var text = state;
        if (state === "connected") text += " · " + socket.transport;
        if (state === "reconnecting") text += " (attempt " + detail.attempt + ", " + (detail.delay / 1000).toFixed(1) + " s)";
        badge.textContent = text;
        if (state === "connected" && errors) errors.textContent = "";
      });
      socket.on("connect_error", function (error) {
        if (errors) errors.textContent = "connect_error: " + error.message + (error.data && error.data.code ? " (" + error.data.code + ")" : "");
      });
      // The server disconnects a socket whose token expired (after auth:expired); herald.js, like socket.io-client,
      // does not come back by itself after a server's DISCONNECT or refusal: the page decides, with a fresh token.
      var expired = false;
      socket.on("auth:expired", function (info) {
        expired = true;
        if (errors) errors.textContent = "token expired: " + info.message;
      });
      socket.on("disconnect", function (reason) {
        if (reason === "io server disconnect" && expired) { expired = false; socket.connect(); }
      });
      socket.on("connect_error", function (error) {
        if (error.data) setTimeout(function () { socket.connect(); }, 2000);
      });
      window.demoSocket = socket; // for the browser tests and the curious
      return socket;
    }
  };
})();
"""#

    /// The page frame: header with navigation, connection badge, and the page's own body and script.
    static func page(title: String, here: String, body: String, script: String) -> String {
        func link(_ path: String, _ name: String) -> String {
            "<a href=\"/demo/\(path)\"\(path == here ? " class=\"here\"" : "")>\(name)</a>"
        }
        return """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(title) · Herald demo</title>
        <link rel="stylesheet" href="/demo/demo.css">
        </head>
        <body>
        <header class="top">
          <h1>Herald demo</h1>
          <nav>\(link("orders", "Orders"))\(link("chat", "Chat"))\(link("dashboard", "Dashboard"))</nav>
          <span class="who">signed in as <b data-user></b></span>
          <span id="status" class="status" data-state="connecting">connecting</span>
        </header>
        <main>
        <div id="error" class="error"></div>
        \(body)
        </main>
        <script src="/herald.js"></script>
        <script src="/demo/demo.js"></script>
        <script>
        \(script)
        </script>
        </body>
        </html>
        """
    }
}
