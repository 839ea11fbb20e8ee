"""The approval panel's HTML (ui://seam/approval): one self-contained page, no network, no outside script.

It speaks the MCP Apps postMessage protocol itself (ui/initialize, then tool-input / tool-result from the host,
tools/call through it), renders every value with textContent (evidence is data, never markup), and clears the code
box the moment a button sends it. Kept in a module rather than a package-data file so every install carries it.
"""

from __future__ import annotations

__all__ = ["PANEL_HTML"]

PANEL_HTML = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>seam approval</title>
<style>
:root {
  color-scheme: light dark;
  --bg: var(--color-background-primary, light-dark(#ffffff, #1b1b1b));
  --bg2: var(--color-background-secondary, light-dark(#f5f5f4, #262626));
  --fg: var(--color-text-primary, light-dark(#171717, #f5f5f5));
  --fg2: var(--color-text-secondary, light-dark(#57534e, #a8a29e));
  --line: var(--color-border-primary, light-dark(#e7e5e4, #3f3f46));
  --ok: var(--color-text-success, light-dark(#166534, #86efac));
  --bad: var(--color-text-danger, light-dark(#b91c1c, #fca5a5));
  --warn: var(--color-background-warning, light-dark(#fef3c7, #422006));
  --radius: var(--border-radius-md, 8px);
  --sans: var(--font-sans, system-ui, -apple-system, "Segoe UI", sans-serif);
  --mono: var(--font-mono, ui-monospace, "DejaVu Sans Mono", monospace);
}
* { box-sizing: border-box; }
body { margin: 0; padding: 14px; background: var(--bg); color: var(--fg); font: 14px/1.4 var(--sans); }
h1 { font-size: 15px; margin: 0 0 10px; display: flex; gap: 8px; align-items: baseline; }
h1 small { color: var(--fg2); font-weight: normal; }
.card { border: 1px solid var(--line); border-radius: var(--radius); padding: 12px; margin-bottom: 12px; }
.head { display: flex; justify-content: space-between; gap: 8px; flex-wrap: wrap; margin-bottom: 8px; }
.title { font-weight: 600; font-size: 16px; }
.tag { font-size: 12px; padding: 1px 8px; border-radius: 99px; background: var(--bg2); color: var(--fg2); }
table { width: 100%; border-collapse: collapse; font-size: 13px; }
td { padding: 3px 6px; border-top: 1px solid var(--line); vertical-align: top; }
td:first-child { color: var(--fg2); width: 38%; }
td.num { font-family: var(--mono); }
.thesis { margin: 8px 0 0; color: var(--fg2); font-style: italic; }
.halt { background: var(--warn); padding: 6px 8px; border-radius: var(--radius); margin: 8px 0 0; }
form { display: flex; gap: 8px; align-items: center; margin-top: 10px; flex-wrap: wrap; }
label { color: var(--fg2); font-size: 13px; }
input { font: 18px var(--mono); letter-spacing: 4px; width: 8.5em; padding: 5px 8px; border-radius: var(--radius);
        border: 1px solid var(--line); background: var(--bg); color: var(--fg); }
button { font: 600 13px var(--sans); padding: 7px 14px; border-radius: var(--radius); cursor: pointer;
         border: 1px solid var(--line); background: var(--bg2); color: var(--fg); }
button.approve { background: #166534; border-color: #166534; color: #fff; }
button:disabled { opacity: 0.5; cursor: default; }
.out { margin-top: 8px; font-size: 13px; white-space: pre-wrap; }
.out.ok { color: var(--ok); } .out.bad { color: var(--bad); }
.note { color: var(--fg2); font-size: 12px; margin-top: 10px; }
.empty { color: var(--fg2); padding: 8px 0; }
</style>
</head>
<body>
<h1>Proposals waiting for you <small id="count"></small></h1>
<div id="list"><div class="empty">Waiting for the proposals&hellip;</div></div>
<p class="note">Type the 6-digit code you received on your own channel (the <code>seam watch</code> terminal,
<code>seam approvals --new-code</code>, Telegram). It goes from this panel to seam, never into the chat;
seam checks it, and a wrong code counts against the proposal.</p>
<script>
"use strict";
(function () {
  const PANEL_TOOL = "approval_panel";
  const DECIDE_TOOL = "approval_panel_decide";
  const waiting = new Map();
  let nextId = 1;
  let focus = null;

  function send(message) { window.parent.postMessage(message, "*"); }
  function request(method, params) {
    const id = nextId++;
    send({ jsonrpc: "2.0", id: id, method: method, params: params });
    return new Promise(function (resolve, reject) { waiting.set(id, { resolve: resolve, reject: reject }); });
  }
  function notify(method, params) { send({ jsonrpc: "2.0", method: method, params: params || {} }); }

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function fmt(value) {
    if (value === undefined || value === null || value === "") return "-";
    if (typeof value === "number") return value.toLocaleString("en-US", { maximumFractionDigits: 5 });
    return String(value);
  }
  function row(table, name, value, numeric) {
    const tr = el("tr");
    tr.appendChild(el("td", "", name));
    tr.appendChild(el("td", numeric ? "num" : "", value));
    table.appendChild(tr);
  }
  function textOf(result) {
    return ((result && result.content) || []).filter(function (b) { return b.type === "text"; })
      .map(function (b) { return b.text; }).join("\\n");
  }

  function card(p) {
    const ev = p.evidence || {};
    const guards = ev.guards || {};
    const box = el("div", "card");
    box.dataset.proposal = p.id;
    const head = el("div", "head");
    head.appendChild(el("span", "title", p.side + " " + fmt(p.units) + " " + p.pair));
    head.appendChild(el("span", "tag", (p.kind === "close" ? "close " : "open ") + p.id));
    box.appendChild(head);
    const table = el("table");
    if (p.kind === "close") {
      row(table, "position", ev.position || p.position_id);
      row(table, "entry (filled)", fmt(ev.entry), true);
      row(table, "open pips", fmt(ev.open_pips), true);
      row(table, "bid / ask", fmt(ev.bid) + " / " + fmt(ev.ask), true);
      if (ev.reason) row(table, "reason", ev.reason);
    } else {
      const confidence = ev.confidence !== undefined ? " (confidence " + fmt(ev.confidence) + ")" : "";
      row(table, "setup", fmt(ev.setup) + confidence);
      row(table, "entry / stop / target", fmt(p.entry) + " / " + fmt(p.stop) + " / " + fmt(p.target), true);
      row(table, "stop / target pips", fmt(ev.stop_pips) + " / " + fmt(ev.target_pips), true);
      row(table, "reward : risk", fmt(p.reward_risk), true);
      row(table, "risk", "$" + fmt(ev.risk_usd) + " (" + fmt(ev.real_risk_percent) + "% of $" +
          fmt(ev.equity) + ")", true);
      row(table, "entry order", fmt(ev.entry_order) + " at the " + fmt(ev.fills_at) + " " + fmt(ev.market) +
          " (" + fmt(ev.entry_distance_pips) + " pips from the entry)", true);
      row(table, "spread", fmt(ev.spread_pips) + " pips, " + fmt(ev.session) + " session", true);
      row(table, "open risk / positions", "$" + fmt(ev.open_risk_usd) + " / " + fmt(ev.open_positions), true);
      if (ev.sizing_notes && ev.sizing_notes.length) row(table, "sizing", ev.sizing_notes.join("; "));
      if (ev.other_pending && ev.other_pending.length) row(table, "also pending", ev.other_pending.join(", "));
    }
    row(table, "guards", "halt " + fmt(guards.halt) + " · mode " + fmt(guards.mode) + " · link " + fmt(guards.link));
    row(table, "code expires", fmt(p.expires_at || ev.expires_at));
    box.appendChild(table);
    if (ev.thesis) box.appendChild(el("p", "thesis", ev.thesis));
    if (guards.halt === "ON") box.appendChild(el("p", "halt", "HALT is on: seam will refuse to send this order."));

    const form = el("form");
    const label = el("label", "", "Code");
    const input = el("input");
    input.name = "code"; input.inputMode = "numeric"; input.autocomplete = "one-time-code";
    input.maxLength = 6; input.placeholder = "000000"; input.pattern = "[0-9]{6}"; input.required = true;
    input.setAttribute("aria-label", "approval code for " + p.id);
    label.appendChild(input);
    const approve = el("button", "approve", "Approve"); approve.type = "submit";
    const reject = el("button", "reject", "Reject"); reject.type = "button";
    const out = el("div", "out");
    form.appendChild(label); form.appendChild(approve); form.appendChild(reject);
    box.appendChild(form); box.appendChild(out);

    function decide(decision) {
      const code = input.value.trim();
      input.value = "";  // the code leaves the box at once, whatever happens next
      if (!/^[0-9]{6}$/.test(code)) { out.className = "out bad"; out.textContent = "The code is six digits."; return; }
      approve.disabled = reject.disabled = true;
      out.className = "out"; out.textContent = "Sending to seam\\u2026";
      request("tools/call", { name: DECIDE_TOOL, arguments: { proposal: p.id, code: code, decision: decision } })
        .then(function (result) {
          const answer = result.structuredContent || {};
          const good = !result.isError && answer.status === "ok";
          out.className = "out " + (good ? "ok" : "bad");
          out.textContent = textOf(result).replace(/^#+ /gm, "").trim().split("\\n").slice(0, 8).join("\\n");
          const said = decision === "approve" ? "approved" : "rejected";
          request("ui/update-model-context", { content: [{ type: "text", text: good
            ? "The human " + said + " proposal " + p.id + " in seam's approval panel (response " +
              answer.response + ")."
            : "The human tried to decide proposal " + p.id + " in seam's approval panel; seam answered " +
              (answer.status || "an error") + "." }] }).catch(function () {});
          if (!good) approve.disabled = reject.disabled = false;
          else refresh();
        })
        .catch(function (error) {
          out.className = "out bad"; out.textContent = "Not sent: " + (error && error.message ? error.message : error);
          approve.disabled = reject.disabled = false;
        });
    }
    form.addEventListener("submit", function (event) { event.preventDefault(); decide("approve"); });
    reject.addEventListener("click", function () { decide("reject"); });
    return box;
  }

  function show(view) {
    if (!view || !Array.isArray(view.pending)) return;
    const list = document.getElementById("list");
    list.replaceChildren();
    document.getElementById("count").textContent = view.count ? "(" + view.count + ")" : "";
    if (!view.pending.length) { list.appendChild(el("div", "empty", "Nothing is waiting for a decision.")); return; }
    const shown = view.focus || focus;
    const ordered = view.pending.slice().sort(function (a, b) { return (b.id === shown) - (a.id === shown); });
    ordered.forEach(function (p) { list.appendChild(card(p)); });
  }
  function refresh() {
    request("tools/call", { name: PANEL_TOOL, arguments: focus ? { proposal: focus } : {} })
      .then(function (result) { show(result.structuredContent); }).catch(function () {});
  }
  function theme(context) {
    if (!context) return;
    const vars = context.styles && context.styles.variables;
    const root = document.documentElement;
    if (vars) Object.keys(vars).forEach(function (k) { if (vars[k]) root.style.setProperty(k, vars[k]); });
    if (context.theme) document.documentElement.style.colorScheme = context.theme;
  }

  window.addEventListener("message", function (event) {
    if (event.source !== window.parent) return;
    const msg = event.data;
    if (!msg || msg.jsonrpc !== "2.0") return;
    if (msg.id !== undefined && msg.method === undefined) {
      const pending = waiting.get(msg.id);
      if (!pending) return;
      waiting.delete(msg.id);
      if (msg.error) pending.reject(new Error(msg.error.message || "error")); else pending.resolve(msg.result);
      return;
    }
    const params = msg.params || {};
    if (msg.method === "ui/notifications/tool-input") {
      focus = (params.arguments && params.arguments.proposal) || null;
    } else if (msg.method === "ui/notifications/tool-result") {
      if (params.structuredContent && Array.isArray(params.structuredContent.pending)) show(params.structuredContent);
      else refresh();
    } else if (msg.method === "ui/notifications/host-context-changed") {
      theme(params);
    } else if (msg.method === "ui/resource-teardown" && msg.id !== undefined) {
      send({ jsonrpc: "2.0", id: msg.id, result: {} });
    } else if (msg.id !== undefined) {
      send({ jsonrpc: "2.0", id: msg.id, error: { code: -32601, message: "Method not found" } });
    }
  });

  new ResizeObserver(function () {
    notify("ui/notifications/size-changed", { width: document.body.scrollWidth, height: document.body.scrollHeight });
  }).observe(document.body);

  request("ui/initialize", {
    appCapabilities: { availableDisplayModes: ["inline"] },
    appInfo: { name: "seam approval panel", version: "1" },
    protocolVersion: "2026-01-26"
  }).then(function (result) {
    theme(result && result.hostContext);
    notify("ui/notifications/initialized", {});
  }).catch(function () {});
})();
</script>
</body>
</html>
"""
