extension DemoAssets {
    /// `/demo/chat`: the demo room: history on join, live messages, send with an acknowledgement that carries the stored id.
    static let chatPage = page(title: "Chat", here: "chat", body: #"""
<section class="card chat">
  <h2>Room <code id="room">chat:lobby</code> <span class="muted">— open it as another user: <a id="other" href="#">second window</a></span></h2>
  <p class="muted">Online: <span id="online"></span></p>
  <ul id="messages" class="messages"></ul>
  <form id="send" class="send">
    <input id="text" type="text" placeholder="Say hello to the bot…" autocomplete="off" maxlength="4000">
    <button id="send-button" type="submit" disabled>Send</button>
  </form>
</section>
"""#, script: #"""
var user = Demo.user("alice"), room = "chat:lobby", bot = "herald-bot", pendingCount = 0;
var list = document.getElementById("messages"), form = document.getElementById("send");
var input = document.getElementById("text"), button = document.getElementById("send-button");
document.getElementById("other").href = "/demo/chat?user=" + (user === "bob" ? "alice" : "bob");

function show(message) {
  // A message can arrive both in the history and live (see docs/chat.md): the id decides.
  var existing = message.id && list.querySelector('li[data-id="' + message.id + '"]');
  var pending = message.clientMessageId && message.sender === user &&
    list.querySelector('li.pending[data-client-id="' + message.clientMessageId + '"]');
  var item = existing || pending || Demo.el("li");
  item.className = (message.sender === user ? "mine" : message.sender === bot ? "bot" : "");
  item.dataset.id = message.id;
  item.dataset.sender = message.sender;
  item.innerHTML = "";
  var meta = Demo.el("div", { "class": "meta" }, message.sender + " · " + Demo.time(new Date(message.time)));
  meta.appendChild(Demo.el("span", { "class": "stored" }, "#" + message.id));
  item.appendChild(meta);
  item.appendChild(Demo.el("div", { "class": "text" }, message.text));
  if (!existing && !pending) list.appendChild(item);
  list.scrollTop = list.scrollHeight;
}

var socket = Demo.connect(user, function (session) {
  room = session.chatRoom; bot = session.bot;
  document.getElementById("room").textContent = room;
});
socket.on("connect", function () {
  socket.emitWithAck("chat:join", { room: room }).then(function (answer) {
    if (!answer || !answer.ok) throw new Error(answer && answer.error ? answer.error.message : "no answer");
    button.disabled = false;
    return socket.emitWithAck("presence:get", { room: room }).then(function (presence) {
      if (!presence || !presence.ok) return;
      online = {};
      presence.members.forEach(function (member) { online[member.sub] = (member.claims && member.claims.name) || member.sub; });
      showOnline();
    });
  }).catch(function (error) { document.getElementById("error").textContent = "join failed: " + error.message; });
});
socket.on("disconnect", function () { button.disabled = true; });

// Presence: who is in the room, one entry per user however many tabs (docs/presence.md).
var online = {};
function showOnline() {
  var names = Object.keys(online).sort();
  var box = document.getElementById("online");
  box.textContent = names.map(function (sub) { return online[sub] + (sub === user ? " (you)" : ""); }).join(", ");
  box.dataset.members = names.join(",");
}
function presenceChanged(joined) {
  return function (change) {
    if (change.room !== room) return;
    if (joined) { online[change.member.sub] = (change.member.claims && change.member.claims.name) || change.member.sub; }
    else { delete online[change.member.sub]; }
    showOnline();
  };
}
socket.on("presence:join", presenceChanged(true));
socket.on("presence:leave", presenceChanged(false));
socket.on("chat:history", function (history) {
  if (history.room !== room) return;
  history.messages.forEach(show);
  document.body.dataset.history = history.messages.length;
});
socket.on("chat:message", function (message) { if (message.room === room) show(message); });

form.addEventListener("submit", function (event) {
  event.preventDefault();
  var text = input.value;
  if (!text.trim()) return;
  var clientMessageId = user + "-" + Date.now().toString(36) + "-" + (pendingCount++);
  var item = Demo.el("li", { "class": "mine pending", "data-client-id": clientMessageId });
  item.appendChild(Demo.el("div", { "class": "meta" }, user + " · sending…"));
  item.appendChild(Demo.el("div", { "class": "text" }, text));
  list.appendChild(item);
  input.value = "";
  socket.emitWithAck("chat:send", { room: room, text: text, clientMessageId: clientMessageId }).then(function (answer) {
    if (!answer || !answer.ok) throw new Error(answer && answer.error ? answer.error.code + ": " + answer.error.message : "no answer");
    // The ack carries the stored id; the broadcast may already have filled the item in.
    item.classList.remove("pending");
    item.dataset.id = answer.id;
    item.dataset.acked = "true";
    var stored = item.querySelector(".stored");
    if (!stored) { stored = Demo.el("span", { "class": "stored" }); item.querySelector(".meta").appendChild(stored); }
    stored.textContent = "stored as #" + answer.id;
  }).catch(function (error) {
    item.classList.add("failed");
    item.querySelector(".meta").textContent = user + " · not sent: " + error.message;
  });
});
"""#)
}
