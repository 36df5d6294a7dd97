// The admin pages' small script: live device readings over server-sent events, device actions
// and checks by fetch (each with the session's CSRF token). No library, nothing from elsewhere.
"use strict";
(function () {
  const meta = (name) => (document.querySelector(`meta[name="${name}"]`) || {}).content || "";
  const csrf = meta("csrf");
  const en = meta("lang") === "en";
  const base = "/admin/";

  async function post(path, body) {
    const r = await fetch(base + path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body || {}),
    });
    let data = {};
    try { data = await r.json(); } catch (e) { data = { error: r.statusText }; }
    return { ok: r.ok, data };
  }

  function show(key, ok, data) {
    const out = document.querySelector(`[data-result="${key}"]`);
    if (!out) return;
    out.classList.toggle("error", !ok);
    out.textContent = ok ? JSON.stringify(data, null, 1) : (en ? "Failed: " : "失败：") + (data.error || "");
  }

  // device actions
  document.querySelectorAll("button[data-action]").forEach((b) => {
    b.addEventListener("click", async () => {
      const id = b.dataset.device, action = b.dataset.action, params = {};
      document.querySelectorAll(`[data-param][data-device="${id}"]`).forEach((i) => {
        if (i.value) params[i.dataset.param] = i.value;
      });
      b.disabled = true;
      show(id, true, en ? "working…" : "进行中…");
      try {
        const r = await post(`devices/${encodeURIComponent(id)}/${action}`, params);
        show(id, r.ok, r.ok ? r.data.result : r.data);
      } finally { b.disabled = false; }
    });
  });

  const scanForm = document.getElementById("scan-test");
  if (scanForm) {
    scanForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      const r = await post("scan-test", { code: scanForm.code.value });
      show("scan-test", r.ok, r.data);
    });
  }

  const ping = document.getElementById("ping");
  if (ping) {
    ping.addEventListener("click", async () => {
      ping.disabled = true;
      try {
        const r = await post("network/ping", {});
        show("ping", r.ok, r.data);
      } finally { ping.disabled = false; }
    });
  }

  // pairing: while a code waits for HQ, watch for the certificate, then show the new state
  const pairing = document.getElementById("pairing");
  if (pairing && pairing.dataset.code) {
    const timer = setInterval(async () => {
      try {
        const r = await fetch(base + "network/pairing", { credentials: "same-origin" });
        const s = await r.json();
        if (!s.code || s.error) { clearInterval(timer); location.reload(); }
      } catch (e) { /* the gateway restarting: try again */ }
    }, 2000);
  }

  // live: devices and the overview's problems
  const page = document.body.dataset.page;
  if (page !== "devices" && page !== "overview") return;
  const source = new EventSource(base + "events");
  const set = (root, field, text) => {
    const el = root.querySelector(`[data-field="${field}"]`);
    if (el && el.textContent !== text) el.textContent = text;
  };
  function weight(root, reading) {
    if (!reading) return;
    set(root, "weight", reading.grams === null || reading.grams === undefined ? "-" : `${reading.grams} g`);
    set(root, "stable", reading.stable ? (en ? "stable" : "稳定") : (en ? "moving" : "不稳定"));
  }
  source.addEventListener("devices", (e) => {
    for (const d of JSON.parse(e.data)) {
      const root = document.querySelector(`section[data-device="${CSS.escape(d.id)}"]`);
      if (!root) continue;
      const st = root.querySelector('[data-field="state"]');
      if (st) { st.textContent = d.state; st.className = `state ${d.state}`; }
      set(root, "error", d.error || "-");
      if (d.kind === "scale") weight(root, d.reading);
      if (d.kind === "scanner" && d.last_scan) set(root, "last_scan", JSON.stringify(d.last_scan));
      if (d.kind === "printer" && d.printer && d.printer.status) {
        const p = d.printer.status.problems;
        set(root, "printer", p.length ? p.join(", ") : (en ? "ready" : "就绪"));
      }
    }
  });
  source.addEventListener("lane", (e) => {
    const ev = JSON.parse(e.data);
    const root = ev.device && document.querySelector(`section[data-device="${CSS.escape(ev.device)}"]`);
    if (!root) return;
    if (ev.type === "weight") weight(root, ev);
    if (ev.type === "scan" || ev.type === "paycode") {
      const { type, lane, device, ...scan } = ev;
      set(root, "last_scan", JSON.stringify(scan));
    }
  });
  source.addEventListener("overview", (e) => {
    const o = JSON.parse(e.data);
    const list = document.querySelector('[data-live="problems"]');
    if (!list) return;
    list.replaceChildren(...(o.problems.length ? o.problems : [null]).map((p) => {
      const li = document.createElement("li");
      li.className = p ? p.severity : "ok";
      li.textContent = p ? (en ? p.en : p.zh) : (en ? "Nothing: all is well" : "一切正常");
      return li;
    }));
    const backlog = document.querySelector('[data-live="backlog"]');
    if (backlog) {
      backlog.textContent = `${o.journal.backlog} ${en ? "events" : "条事件"} (${o.journal.sales_waiting} ${en ? "sales" : "笔销售"})`;
    }
  });
})();
