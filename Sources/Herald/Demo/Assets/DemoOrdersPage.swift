extension DemoAssets {
    /// `/demo/orders`: the user's orders; each status change arrives on `order:{id}` and is shown without reload.
    static let ordersPage = page(title: "Orders", here: "orders", body: #"""
<div class="grid">
  <section class="card">
    <h2>Your orders</h2>
    <p class="muted">Each order is a room, <code>order:{id}</code>. The simulated shop moves one order a step at a time;
      herald pushes <code>order:updated</code> to the room and this page redraws it.</p>
    <div id="orders"></div>
  </section>
  <section class="card">
    <h2>Live updates</h2>
    <ul id="log" class="log"></ul>
  </section>
</div>
"""#, script: #"""
var STEPS = ["placed", "paid", "packed", "shipped", "delivered"];
var user = Demo.user("alice"), orders = {}, subscribed = {};
var list = document.getElementById("orders"), log = document.getElementById("log");

function render(order) {
  var card = document.getElementById("order-" + order.orderId);
  if (!card) {
    card = Demo.el("div", { id: "order-" + order.orderId, "class": "card order" });
    list.appendChild(card);
  }
  card.dataset.status = order.status;
  card.innerHTML = "";
  card.appendChild(Demo.el("div", { "class": "title" }, "#" + order.orderId + " · " + order.item));
  card.appendChild(Demo.el("div", { "class": "amount" }, order.amount.toFixed(2) + " " + order.currency));
  var steps = Demo.el("div", { "class": "steps" }), at = STEPS.indexOf(order.status);
  STEPS.forEach(function (step, index) {
    steps.appendChild(Demo.el("span", { "class": index < at ? "done" : index === at ? "now" : "" }, step));
  });
  card.appendChild(steps);
  orders[order.orderId] = order;
}

function subscribeAll(socket) {
  Object.keys(orders).forEach(function (id) {
    socket.emitWithAck("subscribe", { room: "order:" + id }).then(function (answer) {
      if (!answer || !answer.ok) throw new Error(answer && answer.error ? answer.error.code + ": " + answer.error.message : "no answer");
      subscribed[id] = true;
      document.body.dataset.subscribed = Object.keys(subscribed).length;
    }).catch(function (error) { document.getElementById("error").textContent = "subscribe order:" + id + " failed: " + error.message; });
  });
}

var socket = Demo.connect(user, function (session) { session.orders.forEach(render); });
// Rooms do not survive a reconnect (a new socket): subscribe again every time.
socket.on("connect", function () { subscribed = {}; subscribeAll(socket); });
socket.on("order:updated", function (order) {
  render(order);
  var card = document.getElementById("order-" + order.orderId);
  card.classList.add("flash");
  setTimeout(function () { card.classList.remove("flash"); }, 700);
  var entry = Demo.el("li", { "data-order": order.orderId, "data-status": order.status });
  entry.appendChild(Demo.el("time", null, Demo.time()));
  entry.appendChild(document.createTextNode("#" + order.orderId + " " + order.item + ": " + order.previous + " → " + order.status));
  log.insertBefore(entry, log.firstChild);
});
"""#)
}
