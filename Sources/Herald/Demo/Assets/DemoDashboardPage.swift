extension DemoAssets {
    /// `/demo/dashboard`: `dashboard:stats` (every node and the totals) and `dashboard:business`, drawn on canvases.
    static let dashboardPage = page(title: "Dashboard", here: "dashboard", body: #"""
<div class="tiles">
  <div class="tile"><div class="label">Connections</div><div class="value" id="t-sessions">–</div></div>
  <div class="tile"><div class="label">Users online</div><div class="value" id="t-users">–</div></div>
  <div class="tile"><div class="label">Events / s</div><div class="value" id="t-events">–</div></div>
  <div class="tile"><div class="label">Deliveries / s</div><div class="value" id="t-deliveries">–</div></div>
  <div class="tile"><div class="label">Fan-out p99</div><div class="value" id="t-latency">–</div></div>
  <div class="tile"><div class="label">Nodes</div><div class="value" id="t-nodes">–</div></div>
  <div class="tile"><div class="label">Orders / min</div><div class="value" id="t-orders">–</div></div>
  <div class="tile"><div class="label">Revenue</div><div class="value" id="t-revenue">–</div></div>
  <div class="tile"><div class="label">Delivered</div><div class="value" id="t-delivered">–</div></div>
</div>
<div class="grid">
  <section class="card"><h2>Connections</h2><canvas class="chart" id="c-sessions"></canvas><div class="legend" id="l-sessions"></div></section>
  <section class="card"><h2>Events / s (in + out)</h2><canvas class="chart" id="c-events"></canvas><div class="legend" id="l-events"></div></section>
  <section class="card"><h2>Deliveries / s</h2><canvas class="chart" id="c-deliveries"></canvas><div class="legend" id="l-deliveries"></div></section>
  <section class="card"><h2>Fan-out latency p99 (ms)</h2><canvas class="chart" id="c-latency"></canvas><div class="legend" id="l-latency"></div></section>
  <section class="card"><h2>Orders / min</h2><canvas class="chart" id="c-orders"></canvas><div class="legend" id="l-orders"></div></section>
  <section class="card"><h2>Revenue (EUR)</h2><canvas class="chart" id="c-revenue"></canvas><div class="legend" id="l-revenue"></div></section>
</div>
<p class="muted">Figures: <code>dashboard:stats</code> from herald every second (each node and the totals);
  business figures: <code>dashboard:business</code>, published by the simulated shop through the publish path.</p>
"""#, script: #"""
var POINTS = 60, COLORS = ["#3b5bdb", "#e8590c", "#2b8a3e", "#ae3ec9", "#1098ad", "#f08c00"];
var series = {}; // chart id → { name → [values] }
var statsCount = 0, businessCount = 0;

function push(chart, name, value) {
  var charts = series[chart] = series[chart] || {};
  var values = charts[name] = charts[name] || [];
  values.push(value);
  if (values.length > POINTS) values.shift();
}

/// A line chart, drawn by hand: grid, y labels, one line per series; "total" is drawn thicker.
function draw(chart) {
  var canvas = document.getElementById("c-" + chart), data = series[chart] || {};
  var ratio = window.devicePixelRatio || 1, width = canvas.clientWidth, height = canvas.clientHeight;
  if (canvas.width !== width * ratio) { canvas.width = width * ratio; canvas.height = height * ratio; }
  var g = canvas.getContext("2d");
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, width, height);
  var names = Object.keys(data), max = 0;
  names.forEach(function (name) { data[name].forEach(function (v) { if (v > max) max = v; }); });
  max = max <= 0 ? 1 : max * 1.15;
  var left = 44, right = width - 8, top = 8, bottom = height - 18;
  g.font = "11px system-ui, sans-serif"; g.fillStyle = "#6b7385"; g.strokeStyle = "#e2e6ef"; g.lineWidth = 1;
  for (var i = 0; i <= 4; i++) {
    var y = bottom - (bottom - top) * i / 4;
    g.beginPath(); g.moveTo(left, y); g.lineTo(right, y); g.stroke();
    var label = max * i / 4;
    g.fillText(label >= 100 ? label.toFixed(0) : label.toFixed(label >= 10 ? 1 : 2), 4, y + 4);
  }
  g.textAlign = "right"; g.fillText("last " + POINTS + " readings", right, height - 4); g.textAlign = "left";
  var legend = document.getElementById("l-" + chart);
  legend.innerHTML = "";
  names.forEach(function (name, index) {
    var values = data[name], color = name === "total" ? "#1d2433" : COLORS[index % COLORS.length];
    g.strokeStyle = color; g.lineWidth = name === "total" ? 2.5 : 1.5;
    g.beginPath();
    values.forEach(function (v, k) {
      var x = right - (values.length - 1 - k) * (right - left) / (POINTS - 1), y = bottom - (bottom - top) * v / max;
      if (k === 0) g.moveTo(x, y); else g.lineTo(x, y);
    });
    g.stroke();
    var key = Demo.el("span"), swatch = Demo.el("i"); swatch.style.background = color;
    key.appendChild(swatch); key.appendChild(document.createTextNode(name + " " + format(values[values.length - 1])));
    legend.appendChild(key);
  });
  canvas.dataset.points = names.length ? data[names[0]].length : 0;
}

function format(v) { return v >= 100 ? Math.round(v).toLocaleString() : v.toFixed(v >= 10 ? 1 : 2); }
function setTile(id, text) { document.getElementById(id).textContent = text; }

var socket = Demo.connect(Demo.user("admin"));
socket.on("connect", function () {
  socket.emitWithAck("subscribe", { room: "dashboard" }).then(function (answer) {
    if (!answer || !answer.ok) throw new Error(answer && answer.error ? answer.error.code + ": " + answer.error.message : "no answer");
    document.body.dataset.subscribed = "true";
  }).catch(function (error) { document.getElementById("error").textContent = "subscribe dashboard failed: " + error.message; });
});
socket.on("dashboard:stats", function (stats) {
  var totals = stats.totals;
  stats.nodes.forEach(function (node) {
    push("sessions", node.node, node.sessions);
    push("events", node.node, node.eventsInPerSecond + node.eventsOutPerSecond);
    push("deliveries", node.node, node.deliveriesPerSecond);
    push("latency", node.node, node.fanOutMs.p99);
  });
  push("sessions", "total", totals.sessions);
  push("events", "total", totals.eventsInPerSecond + totals.eventsOutPerSecond);
  push("deliveries", "total", totals.deliveriesPerSecond);
  push("latency", "total", totals.fanOutMs.p99);
  ["sessions", "events", "deliveries", "latency"].forEach(draw);
  setTile("t-sessions", totals.sessions);
  setTile("t-users", totals.users);
  setTile("t-events", format(totals.eventsInPerSecond + totals.eventsOutPerSecond));
  setTile("t-deliveries", format(totals.deliveriesPerSecond));
  setTile("t-latency", totals.fanOutMs.p99.toFixed(2) + " ms");
  setTile("t-nodes", totals.nodes);
  document.body.dataset.stats = ++statsCount;
});
socket.on("dashboard:business", function (figures) {
  push("orders", "orders/min", figures.ordersPerMinute);
  push("revenue", "revenue", figures.revenue);
  ["orders", "revenue"].forEach(draw);
  setTile("t-orders", figures.ordersPerMinute);
  setTile("t-revenue", figures.revenue.toLocaleString(undefined, { style: "currency", currency: figures.currency || "EUR" }));
  setTile("t-delivered", figures.delivered);
  document.body.dataset.business = ++businessCount;
});
window.addEventListener("resize", function () { Object.keys(series).forEach(draw); });
"""#)
}
