// The cashier page: the basket lives in the gateway; this page shows it and sends what the
// cashier does. Scans arrive at the gateway from the scanner itself and come back as SSE.
"use strict";
let basket = null;
const PROBLEM_WORDS = { "paper out": T.paper_out, "paper near end": T.paper_near_end,
                        "cover open": T.cover_open };

function render(b) {
  basket = b;
  renderLines(b, (ln, d) => setQty(ln, d, render), (ln) => voidLine(ln, render));
  $("gross").textContent = yuan(b.gross_fen);
  $("saved").textContent = b.discount_fen ? "-" + yuan(b.discount_fen) : yuan(0);
  $("paid").textContent = yuan(b.paid_fen);
  $("due").textContent = yuan(b.due_fen);
  $("points").textContent = b.points_estimate == null ? "—" : String(b.points_estimate);
  renderCoupons(b);
  renderFloor(b);
  if (b.sale) {
    const s = b.sale;
    $("done").textContent = `${T.sale_done} ${s.receipt_no} · ${T.change} ${yuan(s.change_fen || 0)}`;
    $("done").hidden = false;
    $("qr-hint").hidden = true;
  } else if (b.lines.length) {
    $("done").hidden = true;
  }
  const list = $("suspended");
  list.replaceChildren();
  for (const s of b.suspended || []) {
    const li = document.createElement("li");
    const btn = document.createElement("button");
    btn.textContent = `${T.resume}: ${s.label || s.id.slice(-6)} (${s.lines})`;
    btn.addEventListener("click", async () => {
      const r = await call(`/basket/resume/${s.id}`, "POST", {});
      if (r) render(r);
    });
    li.appendChild(btn);
    list.appendChild(li);
  }
}

// coupons on the basket: each with what it saved, or why it does not apply now
function renderCoupons(b) {
  const list = $("coupons");
  list.replaceChildren();
  for (const c of b.coupons || []) {
    const li = document.createElement("li");
    li.dataset.code = c.code;
    const label = document.createElement("span");
    label.textContent = c.refused
      ? `${c.name} ${c.display} · ${T.coupon_not_applied}: ${T["why_" + c.why] || c.refused}`
      : `${c.name} ${c.display}  -${yuan(c.saved_fen)}`;
    if (c.refused) li.className = "problem";
    const rm = document.createElement("button");
    rm.textContent = T.coupon_remove;
    rm.className = "small void";
    rm.addEventListener("click", async () => {
      const r = await call(`/basket/coupons/${encodeURIComponent(c.code)}`, "DELETE");
      if (r) render(r);
    });
    li.append(label, rm);
    list.appendChild(li);
  }
}

// the margin floor: lines it holds (a manager may override), or the override in force
function renderFloor(b) {
  const held = (b.floor && b.floor.lines) || [];
  for (const tr of document.querySelectorAll("#lines tbody tr")) {
    const ln = b.lines[Number(tr.dataset.no) - 1];
    tr.classList.toggle("at-floor", !!ln && ln.floor === "held");
    tr.classList.toggle("below-floor", !!ln && ln.floor === "below");
  }
  $("floor").hidden = held.length === 0 || !!b.override;
  if (held.length) {
    const which = held.map((n) => T.line_no.replace("{n}", n)).join(", ");
    $("floor-text").textContent = `${T.floor_held} ${yuan(b.floor.held_fen)} · ${which}`;
  }
  const note = $("override-note");
  note.hidden = !b.override;
  if (b.override) {
    const which = b.override.lines.map((n) => T.line_no.replace("{n}", n)).join(", ");
    note.textContent = `${T.override_by}: ${b.override.by} · ${which}`;
  }
}

async function refreshState() {
  const r = await fetch(API + "/state");
  if (!r.ok) return;
  const s = await r.json();
  const hub = $("hub");
  hub.textContent = s.hub_online ? T.hub_online : T.hub_offline;
  hub.className = s.hub_online ? "pill ok" : "pill warn";
  const list = $("devices");
  list.replaceChildren();
  for (const d of s.devices) {
    const li = document.createElement("li");
    const words = (d.status || []).map((p) => PROBLEM_WORDS[p] || p);
    const state = T["dev_" + d.state] || d.state;
    li.textContent = `${d.kind} ${d.id}: ${words.length ? words.join(", ") : state}`;
    if (d.state !== "online" || words.length) li.className = "problem";
    list.appendChild(li);
  }
}

function listen() {
  const es = new EventSource(API + "/events");
  es.addEventListener("basket", (e) => render(JSON.parse(e.data).basket));
  es.addEventListener("problem", (e) => {
    const p = JSON.parse(e.data);
    problem((p.why && T["why_" + p.why]) || p.reason);
  });
  es.addEventListener("sale.refused", (e) => problem(JSON.parse(e.data).reason));
  es.addEventListener("printer.status", refreshState);
  es.addEventListener("weight", (e) => {
    const w = JSON.parse(e.data);
    if (w.state) problem(w.state === "motion" ? T.unstable : w.state);
  });
  es.addEventListener("paycode", () => problem(""));
  es.onerror = () => refreshState();
}

setupCommon(render);
$("cash").addEventListener("submit", async (e) => {
  e.preventDefault();
  const given = $("tendered").value.trim();
  const fen = given ? toFen(given) : basket && basket.due_fen;
  if (!fen) return problem(T.tendered);
  const b = await call("/basket/pay", "POST", { tender: "cash", tendered_fen: fen });
  $("tendered").value = "";
  if (b) render(b);
});
$("card").addEventListener("click", async () => {
  const b = await call("/basket/pay", "POST", { tender: "card" });
  if (b) render(b);
});
$("qr").addEventListener("click", () => { $("qr-hint").hidden = false; });
$("points-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const points = Number($("points-in").value.trim());
  if (!Number.isInteger(points) || points <= 0) return;
  const b = await call("/basket/points", "POST", { points });
  $("points-in").value = "";
  if (b) render(b);
});
$("void-pay").addEventListener("click", async () => {
  const b = await call("/basket/payments/void", "POST", {});
  if (b) render(b);
});
$("coupon").addEventListener("submit", async (e) => {
  e.preventDefault();
  const code = $("coupon-code").value.trim();
  if (!code) return;
  const b = await call("/basket/coupons", "POST", { code });
  if (b) {
    $("coupon-code").value = "";
    render(b);
  }
});
$("override").addEventListener("submit", async (e) => {
  e.preventDefault();
  const username = $("mgr-user").value.trim();
  const password = $("mgr-pass").value;
  $("mgr-pass").value = "";  // never left on the screen
  if (!username || !password) return;
  const b = await call("/basket/override", "POST", { username, password });
  if (b) {
    $("mgr-user").value = "";
    render(b);
  }
});
$("suspend").addEventListener("click", async () => {
  const b = await call("/basket/suspend", "POST", {});
  if (b) render(b);
});
// keyboard: anything typed while no field has focus goes to the code field (a keyboard
// wedge scanner types into the page too); Delete voids the last line
document.addEventListener("keydown", (e) => {
  const inField = ["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName);
  if (e.key === "Delete" && !inField && basket && basket.lines.length) {
    voidLine(basket.lines[basket.lines.length - 1], render);
  } else if (!inField && e.key.length === 1) {
    $("code").focus();
  }
});
listen();
refreshState();
setInterval(refreshState, 10000);
// the basket came with the page (no round trip before the total shows); else ask for it
const first = JSON.parse($("basket-first")?.textContent || "null");
if (first) render(first);
else call("/basket").then((b) => b && render(b));
