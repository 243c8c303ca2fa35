extension DemoAssets {
    /// `/demo`: links to the three pages.
    static let indexPage = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Herald demo</title>
<link rel="stylesheet" href="/demo/demo.css">
</head>
<body>
<header class="top"><h1>Herald demo</h1></header>
<main>
<section class="card links">
  <h2>Pages</h2>
  <a href="/demo/orders?user=alice">Order tracking — Alice's orders change status live</a>
  <a href="/demo/chat?user=alice">Chat as Alice</a>
  <a href="/demo/chat?user=bob">Chat as Bob (open both side by side)</a>
  <a href="/demo/dashboard">Dashboard — connections, events, deliveries, latency and the shop's figures</a>
  <p class="muted">Any user name works: <code>?user=carol</code>. Add <code>&amp;transport=polling</code> to force HTTP long-polling.
    The pages use <a href="/herald.js">/herald.js</a>, herald's small browser client.</p>
</section>
</main>
</body>
</html>
"""#
}
