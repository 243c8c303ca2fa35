"""Real-browser checks of herald's demo pages: headless Chromium driven by selenium.

Usage: demo_browser.py BASE_URL SCREENSHOT_DIR HERALD_BINARY
The Swift test (Tests/HeraldTests/DemoBrowserTests.swift) starts a demo node with fast intervals and runs this;
the restart check runs `HERALD_BINARY demo` itself, since it stops and starts the server.
Every wait is bounded and names what it waited for; nothing sleeps for a fixed time.
Chromium and chromedriver: /usr/bin/chromium and /usr/bin/chromedriver (Debian), or HERALD_CHROMIUM / HERALD_CHROMEDRIVER.
"""
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

BASE = sys.argv[1].rstrip("/")
SHOTS = sys.argv[2]
HERALD = sys.argv[3]
WAIT = 20  # seconds; the node runs with 100 ms order steps, so every condition should hold within a few
CHROMIUM = os.environ.get("HERALD_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("HERALD_CHROMEDRIVER", "/usr/bin/chromedriver")

# Replaces WebSocket before any page script runs, like a proxy that refuses upgrades: herald.js must fall back to polling.
BLOCK_WEBSOCKET = """
window.WebSocket = function () {
  var self = this; self.readyState = 3;
  setTimeout(function () { if (self.onerror) self.onerror(new Event("error")); if (self.onclose) self.onclose({ code: 1006 }); }, 0);
};
window.WebSocket.prototype.send = function () { throw new Error("blocked"); };
window.WebSocket.prototype.close = function () {};
"""

drivers = []


def browser(block_websocket=False):
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.path.exists(path):
            raise SystemExit(f"missing {path}: install the Debian packages chromium and chromium-driver (scripts/test.sh does)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,900", "--hide-scrollbars"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    drivers.append(driver)
    if block_websocket:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": BLOCK_WEBSOCKET})
    return driver


def wait(driver, what, condition, timeout=WAIT):
    """Waits for condition(driver) to be truthy; fails naming `what` and showing the page's state."""
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: condition(d))
    except TimeoutException:
        state = driver.execute_script(
            "var s = document.getElementById('status'), e = document.getElementById('error');"
            "return {url: location.href, status: s && s.textContent, error: e && e.textContent, body: Object.assign({}, document.body.dataset)};")
        raise AssertionError(f"timed out after {timeout} s waiting for {what}; page: {json.dumps(state)}") from None


def js(driver, script, *args):
    return driver.execute_script(script, *args)


def connected(driver, transport=None):
    def check(d):
        badge = d.find_element(By.ID, "status")
        if badge.get_attribute("data-state") != "connected":
            return False
        return transport is None or badge.get_attribute("data-transport") == transport
    wait(driver, f"the connection ({transport or 'any transport'})", check)


def shot(driver, name):
    os.makedirs(SHOTS, exist_ok=True)
    path = os.path.join(SHOTS, name + ".png")
    driver.save_screenshot(path)
    print(f"screenshot {path}")


def live_order_updates(driver, user, transport=None, query=""):
    driver.get(f"{BASE}/demo/orders?user={user}{query}")
    # A value set now survives only if the page is never reloaded: the updates must come without one.
    js(driver, "window.__noReload = 'kept';")
    connected(driver, transport)
    wait(driver, "the three orders to be subscribed", lambda d: js(d, "return document.body.dataset.subscribed") == "3")
    first = js(driver, "return Array.from(document.querySelectorAll('#orders .order')).map(function (c) { return c.dataset.status; })")
    assert len(first) == 3, f"expected 3 orders, got {first}"
    wait(driver, "two live status changes in the log", lambda d: len(d.find_elements(By.CSS_SELECTOR, "#log li")) >= 2)
    wait(driver, "an order card to change status",
         lambda d: js(d, "return Array.from(document.querySelectorAll('#orders .order')).map(function (c) { return c.dataset.status; })") != first)
    entry = driver.find_element(By.CSS_SELECTOR, "#log li")
    assert "→" in entry.text, f"log entry: {entry.text}"
    assert js(driver, "return window.__noReload") == "kept", "the page was reloaded"
    return driver


def messages(driver, css="#messages li"):
    return js(driver, "return Array.from(document.querySelectorAll(arguments[0])).map(function (li) {"
                      " return {id: li.dataset.id, sender: li.dataset.sender, text: (li.querySelector('.text') || {}).textContent,"
                      " acked: li.dataset.acked, stored: (li.querySelector('.stored') || {}).textContent}; })", css)


def send(driver, text):
    field = driver.find_element(By.ID, "text")
    field.send_keys(text)
    driver.find_element(By.ID, "send-button").click()


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class DemoProcess:
    """`herald demo` as a user starts it; ready once it prints its URLs."""

    def __init__(self, port):
        self.process = subprocess.Popen([HERALD, "demo", "--port", str(port), "--order-interval", "100"],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + WAIT
        seen = []
        while True:
            left = deadline - time.monotonic()
            try:
                line = self.lines.get(timeout=max(left, 0.01))
            except queue.Empty:
                self.stop()
                raise AssertionError(f"herald demo printed no URLs within {WAIT} s; output: {seen}")
            if line is None:
                raise AssertionError(f"herald demo exited with {self.process.wait()}; output: {seen}")
            seen.append(line.rstrip())
            if f"http://127.0.0.1:{port}/demo/orders?user=alice" in line:
                return

    def _read(self):
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()  # SIGTERM: herald closes its clients' transports (they reconnect), then stops
            try:
                self.process.wait(timeout=WAIT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                raise AssertionError(f"herald demo did not stop within {WAIT} s of SIGTERM")


def restart(driver):
    port = free_port()
    server = DemoProcess(port)
    try:
        driver.get(f"http://127.0.0.1:{port}/demo/orders?user=frank")
        js(driver, "window.__noReload = 'kept';")
        connected(driver)
        wait(driver, "a live update before the restart", lambda d: len(d.find_elements(By.CSS_SELECTOR, "#log li")) >= 1)
        server.stop()
        wait(driver, "the page to notice the server is gone",
             lambda d: d.find_element(By.ID, "status").get_attribute("data-state") in ("reconnecting", "connecting", "disconnected"))
        before = len(driver.find_elements(By.CSS_SELECTOR, "#log li"))
        server = DemoProcess(port)
        connected(driver)
        wait(driver, "live updates after the restart", lambda d: len(d.find_elements(By.CSS_SELECTOR, "#log li")) > before + 1)
        assert js(driver, "return window.__noReload") == "kept", "the page was reloaded"
    finally:
        server.stop()


def main():
    started = time.monotonic()

    # 1. Orders: status changes appear live.
    orders = live_order_updates(browser(), "alice")
    shot(orders, "orders")
    print("orders: live updates ok")

    # 2. Chat: two people in the room, history on join, live messages, acks with the stored id, the bot.
    alice, bob = orders, browser()
    alice.get(f"{BASE}/demo/chat?user=alice")
    bob.get(f"{BASE}/demo/chat?user=bob")
    for driver, name in ((alice, "alice"), (bob, "bob")):
        connected(driver)
        wait(driver, f"{name}'s history", lambda d: any(m["sender"] == "herald-bot" and "Welcome" in (m["text"] or "") for m in messages(d)))
        wait(driver, f"{name}'s send button", lambda d: d.find_element(By.ID, "send-button").is_enabled())
    # Presence: each sees both users online (one entry per user, from presence:get and presence:join).
    for driver, name in ((alice, "alice"), (bob, "bob")):
        wait(driver, f"alice and bob online at {name}",
             lambda d: d.find_element(By.ID, "online").get_attribute("data-members") == "alice,bob")
    nonce = str(int(time.time() * 1000))
    send(alice, f"hello bob, this is alice {nonce}")
    wait(bob, "alice's message at bob", lambda d: any(m["sender"] == "alice" and nonce in (m["text"] or "") for m in messages(d)))
    wait(alice, "the acknowledgement with the stored id",
         lambda d: any(m["acked"] == "true" and nonce in (m["text"] or "") and (m["stored"] or "").startswith("stored as #") for m in messages(d)))
    mine = [m for m in messages(alice) if nonce in (m["text"] or "")]
    theirs = [m for m in messages(bob) if nonce in (m["text"] or "")]
    assert len(mine) == 1 and len(theirs) == 1, f"the message must show once: alice {mine}, bob {theirs}"
    assert mine[0]["id"] == theirs[0]["id"] and mine[0]["stored"] == f"stored as #{mine[0]['id']}", f"ids differ: {mine} {theirs}"
    for driver, name in ((alice, "alice"), (bob, "bob")):
        wait(driver, f"the bot's answer at {name}", lambda d: any(m["sender"] == "herald-bot" and "Hello alice!" in (m["text"] or "") for m in messages(d)))
    send(bob, f"hi alice, bob here {nonce}")
    wait(alice, "bob's answer at alice", lambda d: any(m["sender"] == "bob" and nonce in (m["text"] or "") for m in messages(d)))
    wait(bob, "bob's own acknowledgement", lambda d: any(m["sender"] == "bob" and m["acked"] == "true" for m in messages(d)))
    # A second join (reload) brings the conversation back from the store.
    bob.get(f"{BASE}/demo/chat?user=bob")
    connected(bob)
    wait(bob, "the history with alice's message after a reload", lambda d: any(m["sender"] == "alice" and nonce in (m["text"] or "") for m in messages(d)))
    shot(alice, "chat-alice")
    shot(bob, "chat-bob")
    print("chat: history, live messages, acks, bot ok")

    # 3. Dashboard: stats and business figures arrive, numbers change, charts are drawn.
    dashboard = bob
    dashboard.get(f"{BASE}/demo/dashboard?user=admin")
    connected(dashboard)
    wait(dashboard, "the dashboard subscription", lambda d: js(d, "return document.body.dataset.subscribed") == "true")
    wait(dashboard, "three dashboard:stats", lambda d: int(js(d, "return document.body.dataset.stats || 0")) >= 3)
    wait(dashboard, "two dashboard:business", lambda d: int(js(d, "return document.body.dataset.business || 0")) >= 2)
    revenue = dashboard.find_element(By.ID, "t-revenue").text
    wait(dashboard, "the revenue to change", lambda d: d.find_element(By.ID, "t-revenue").text != revenue)
    sessions = dashboard.find_element(By.ID, "t-sessions").text
    assert sessions.isdigit() and int(sessions) >= 2, f"connections tile: {sessions!r}"
    # alice's chat page and this admin: two distinct users online.
    wait(dashboard, "users online", lambda d: (d.find_element(By.ID, "t-users").text or "0").isdigit()
         and int(d.find_element(By.ID, "t-users").text) >= 2)
    for chart in ("sessions", "events", "deliveries", "latency", "orders", "revenue"):
        wait(dashboard, f"chart {chart} to have points", lambda d: int(js(d, "return document.getElementById(arguments[0]).dataset.points || 0", "c-" + chart)) >= 2)
        inked = js(dashboard, """
            var c = document.getElementById(arguments[0]), data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data, n = 0;
            for (var i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
            return n;""", "c-" + chart)
        assert inked > 500, f"chart {chart} looks empty ({inked} painted pixels)"
    # A few more readings, so the screenshot shows lines rather than dots.
    wait(dashboard, "fifteen dashboard:stats", lambda d: int(js(d, "return document.body.dataset.stats || 0")) >= 15)
    shot(dashboard, "dashboard")
    print("dashboard: stats, business figures, charts ok")

    # 4. Websocket blocked: herald.js falls back to long-polling; and polling forced by option.
    blocked = browser(block_websocket=True)
    live_order_updates(blocked, "dave", transport="polling")
    print("websocket blocked: fell back to polling, live updates ok")
    live_order_updates(blocked, "erin", transport="polling", query="&transport=polling")
    blocked.get(f"{BASE}/demo/chat?user=erin&transport=polling")
    connected(blocked, "polling")
    wait(blocked, "the send button over polling", lambda d: d.find_element(By.ID, "send-button").is_enabled())
    send(blocked, f"polling works {nonce}")
    wait(blocked, "the acknowledgement over polling",
         lambda d: any(m["acked"] == "true" and "polling works" in (m["text"] or "") for m in messages(d)))
    print("forced polling: orders and chat ok")

    # 5. The server restarts: the page reconnects by itself (new token, new subscriptions) and updates resume.
    restart(alice)
    print("restart: reconnected, live updates resumed")

    print(json.dumps({"ok": True, "seconds": round(time.monotonic() - started, 1)}))


if __name__ == "__main__":
    try:
        main()
    finally:
        for d in drivers:
            try:
                for entry in d.get_log("browser"):
                    if entry.get("level") == "SEVERE":
                        print("browser console:", entry.get("message"), file=sys.stderr)
            except Exception:
                pass
            d.quit()
