extension DemoAssets {
    /// `/demo/demo.css`: the look shared by the demo pages.
    static let stylesheet = #"""
:root {
  --bg: #f4f6fb; --card: #ffffff; --ink: #1d2433; --muted: #6b7385; --line: #e2e6ef;
  --accent: #3b5bdb; --ok: #2b8a3e; --warn: #e67700; --bad: #c92a2a;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); font-size: 15px; }
header.top { display: flex; align-items: center; gap: 16px; padding: 14px 28px; background: #1d2433; color: #fff; }
header.top h1 { font-size: 18px; margin: 0; font-weight: 600; }
header.top nav { display: flex; gap: 14px; margin-left: 12px; }
header.top nav a { color: #c5cde0; text-decoration: none; font-size: 14px; }
header.top nav a.here, header.top nav a:hover { color: #fff; }
header.top .who { margin-left: auto; font-size: 14px; color: #c5cde0; }
.status { display: inline-flex; align-items: center; gap: 6px; font-size: 13px; padding: 3px 10px; border-radius: 999px; background: #343c4f; color: #fff; }
.status::before { content: ""; width: 8px; height: 8px; border-radius: 50%; background: var(--warn); }
.status[data-state="connected"]::before { background: #51cf66; }
.status[data-state="disconnected"]::before { background: var(--bad); }
main { max-width: 1120px; margin: 24px auto; padding: 0 24px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 18px 20px; margin-bottom: 18px; box-shadow: 0 1px 2px rgba(20, 30, 60, .04); }
.card h2 { font-size: 16px; margin: 0 0 12px; }
.muted { color: var(--muted); }
.grid { display: grid; gap: 18px; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); }
.error { color: var(--bad); font-size: 14px; min-height: 1.2em; }
button { font: inherit; background: var(--accent); color: #fff; border: 0; border-radius: 8px; padding: 9px 16px; cursor: pointer; }
button:disabled { opacity: .5; cursor: default; }
input[type=text] { font: inherit; flex: 1; padding: 9px 12px; border: 1px solid var(--line); border-radius: 8px; }

/* orders */
.order { display: grid; grid-template-columns: 1fr auto; gap: 6px 12px; transition: background .6s; }
.order.flash { background: #edf2ff; }
.order .title { font-weight: 600; }
.order .amount { text-align: right; font-variant-numeric: tabular-nums; }
.steps { grid-column: 1 / -1; display: flex; gap: 4px; margin-top: 8px; }
.steps span { flex: 1; text-align: center; font-size: 12px; padding: 6px 0; border-radius: 6px; background: #eef0f5; color: var(--muted); }
.steps span.done { background: #d3f9d8; color: var(--ok); }
.steps span.now { background: var(--ok); color: #fff; font-weight: 600; }
ul.log { list-style: none; margin: 0; padding: 0; max-height: 360px; overflow: auto; font-size: 14px; }
ul.log li { padding: 6px 0; border-bottom: 1px solid var(--line); }
ul.log time { color: var(--muted); font-variant-numeric: tabular-nums; margin-right: 8px; }

/* chat */
.chat { display: flex; flex-direction: column; height: 560px; }
ul.messages { list-style: none; margin: 0; padding: 4px; flex: 1; overflow: auto; display: flex; flex-direction: column; gap: 8px; }
ul.messages li { max-width: 75%; padding: 8px 12px; border-radius: 12px; background: #eef0f5; align-self: flex-start; }
ul.messages li.mine { background: #dbe4ff; align-self: flex-end; }
ul.messages li.bot { background: #fff4e6; }
ul.messages li.pending { opacity: .6; }
ul.messages .meta { font-size: 12px; color: var(--muted); margin-bottom: 2px; }
ul.messages .stored { font-size: 11px; color: var(--muted); margin-left: 6px; }
form.send { display: flex; gap: 8px; margin-top: 12px; }

/* dashboard */
.tiles { display: grid; gap: 14px; grid-template-columns: repeat(auto-fit, minmax(160px, 1fr)); margin-bottom: 18px; }
.tile { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; }
.tile .label { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
.tile .value { font-size: 26px; font-weight: 600; font-variant-numeric: tabular-nums; margin-top: 4px; }
canvas.chart { width: 100%; height: 180px; display: block; }
.legend { display: flex; flex-wrap: wrap; gap: 12px; font-size: 12px; color: var(--muted); margin-top: 6px; }
.legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; vertical-align: -1px; }
.links a { display: block; padding: 12px 0; font-size: 16px; color: var(--accent); }
"""#
}
