// Shared by the cashier page, the staff order page and the returns screen: words, money, calls,
// the basket table.
"use strict";
const T = JSON.parse(document.getElementById("strings").textContent);
const till = document.getElementById("till");
const API = till.dataset.api;
const $ = (id) => document.getElementById(id);

function yuan(fen) {
  const sign = fen < 0 ? "-" : "";
  const a = Math.abs(fen);
  return sign + "¥" + Math.floor(a / 100) + "." + String(a % 100).padStart(2, "0");
}

function qty(line) {
  if (line.weighed) return (line.qty_milli / 1000).toFixed(3) + " kg";
  return String(line.qty_milli / 1000);
}

// "12.5" → 1250 fen, exactly (no floating point on money)
function toFen(text) {
  const m = String(text).trim().match(/^(\d{1,9})(?:\.(\d{1,2}))?$/);
  if (!m) return null;
  return Number(m[1]) * 100 + Number((m[2] || "").padEnd(2, "0"));
}

function problem(text) {
  const p = $("problem");
  p.textContent = text || "";
  p.hidden = !text;
}

async function call(path, method, body, headers) {
  const opts = { method: method || "GET", headers: { "X-Storegw": "1", ...(headers || {}) } };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(API + path, opts);
  const data = await r.json().catch(() => ({ error: r.statusText }));
  if (!r.ok) {
    // the page's own words for a refusal it knows (`why`), else the gateway's reason
    problem((data.why && T["why_" + data.why]) || data.error || String(r.status));
    return null;
  }
  problem("");
  return data;
}

function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

function renderMember(m) {
  const el = $("member");
  if (!m) {
    el.textContent = T.no_member;
    el.className = "muted";
    return;
  }
  const how = m.online ? T.online : T.offline;
  el.textContent = `${m.name || m.member_id} · ${m.tier_name || m.tier || ""} · ${T.points} ${m.points} · ${how}`;
  el.className = m.online ? "member" : "member offline";
}

function renderLines(b, onQty, onVoid) {
  const body = document.querySelector("#lines tbody");
  body.replaceChildren();
  for (const ln of b.lines) {
    const tr = document.createElement("tr");
    tr.dataset.no = ln.no;
    cell(tr, ln.name, "name");
    const q = cell(tr, qty(ln), "num qty");
    if (!ln.weighed && onQty) {
      const minus = document.createElement("button");
      minus.textContent = "−";
      minus.className = "small";
      minus.addEventListener("click", () => onQty(ln, -1000));
      const plus = document.createElement("button");
      plus.textContent = "+";
      plus.className = "small";
      plus.addEventListener("click", () => onQty(ln, 1000));
      q.prepend(minus);
      q.append(plus);
    }
    cell(tr, yuan(ln.unit_price_fen), "num");
    cell(tr, ln.discount_fen ? "-" + yuan(ln.discount_fen) : "", "num");
    cell(tr, yuan(ln.total_fen), "num");
    const v = document.createElement("button");
    v.textContent = T.void;
    v.className = "small void";
    v.addEventListener("click", () => onVoid(ln));
    tr.appendChild(document.createElement("td")).appendChild(v);
    body.appendChild(tr);
  }
  $("empty").hidden = b.lines.length > 0;
  const sv = $("savings");
  sv.replaceChildren();
  for (const s of b.savings) {
    const li = document.createElement("li");
    li.textContent = `${s.name}  -${yuan(s.saved_fen)}`;
    sv.appendChild(li);
  }
  for (const h of b.handouts || []) {
    const li = document.createElement("li");
    li.textContent = `${T.handouts}: ${h.sku} × ${h.qty}`;
    sv.appendChild(li);
  }
  $("total").textContent = yuan(b.total_fen);
  renderMember(b.member);
}

function setupCommon(render) {
  $("scan").addEventListener("submit", async (e) => {
    e.preventDefault();
    const code = $("code").value.trim();
    if (!code) return;
    $("code").value = "";
    const b = await call("/basket/scan", "POST", { code });
    if (b) render(b);
    $("code").focus();
  });
  $("identify").addEventListener("submit", async (e) => {
    e.preventDefault();
    const who = $("who").value.trim();
    if (!who) return;
    let q = { phone: who };
    if (/^M:/.test(who)) q = { qr: who };
    else if (!/^[\d +-]{7,20}$/.test(who)) q = { card_no: who };
    const b = await call("/basket/member", "POST", q);
    if (b) {
      $("who").value = "";
      render(b);
    }
  });
}

async function setQty(ln, delta, render) {
  const want = ln.qty_milli + delta;
  const b = want <= 0
    ? await call(`/basket/lines/${ln.no}`, "DELETE")
    : await call(`/basket/lines/${ln.no}`, "POST", { qty_milli: want });
  if (b) render(b);
}

async function voidLine(ln, render) {
  const b = await call(`/basket/lines/${ln.no}`, "DELETE");
  if (b) render(b);
}
