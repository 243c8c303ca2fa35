"""A `herald serve` process for the hostile-client measurements: start it, wait until /health answers, read its RSS."""
import os, subprocess, time, urllib.request

class Node:
    def __init__(self, binary, port):
        self.port = port
        self.process = subprocess.Popen(
            [binary, "serve", "--host", "127.0.0.1", "--port", str(port), "--threads", "1", "--log-level", "error"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1); break
            except Exception: time.sleep(0.1)
        time.sleep(0.5)

    def rss(self):
        """Resident set size in MiB."""
        for line in open(f"/proc/{self.process.pid}/status"):
            if line.startswith("VmRSS:"): return int(line.split()[1]) // 1024

    def stop(self):
        self.process.terminate(); self.process.wait(timeout=10)
