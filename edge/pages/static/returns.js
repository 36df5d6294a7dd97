// The returns screen: find a receipt (typed, a keyboard-wedge scan, or the lane's scanner over
// the lane's events), pick what comes back, see the refund the gateway quotes, confirm.
// Every figure is the gateway's (edge/returns.py; another store's sale as the hub answers it):
// the page only shows and asks. Calls and refusals' words: common.js `call`.
"use strict";
let sale = null;
const picks = new Map(); // line → qty_milli

function units(ln, milli) {
  return ln.weighed ? (milli / 1000).toFixed(3) + " kg" : String(milli / 1000);
}

function renderSale(s) {
  sale = s;
  picks.clear();
  $("sale").hidden = false;
  $("quote").hidden = true;
  const back = s.refunded_fen ? ` · ${T.returned} ${yuan(s.refunded_fen)}` : "";
  const where = s.sold_here ? "" : ` · ${T.sold_at} ${s.store}`; // another store's sale
  $("sale-head").textContent =
    `${T.receipt} ${s.receipt_no}${where} · ${T.paid} ${yuan(s.total_fen)}${back}`;
  const body = document.querySelector("#ret-lines tbody");
  body.replaceChildren();
  for (const ln of s.lines) {
    const tr = document.createElement("tr");
    tr.dataset.line = ln.line;
    cell(tr, ln.name, "name");
    cell(tr, units(ln, ln.qty_milli), "num");
    cell(tr, units(ln, ln.qty_left), "num left");
    cell(tr, yuan(ln.total_fen), "num");
    const td = cell(tr, "", "num");
    if (ln.qty_left > 0) {
      const input = document.createElement("input");
      input.className = "ret-qty";
      if (ln.weighed) {
        input.type = "checkbox";
        input.title = T.whole;
      } else {
        input.type = "number";
        input.min = "0";
        input.max = String(ln.qty_left / 1000);
        input.step = "1";
        input.value = "0";
        input.inputMode = "numeric";
      }
      input.addEventListener("change", () => pick(ln, input));
      td.appendChild(input);
    }
    body.appendChild(tr);
  }
  if (s.fen_left <= 0) problem(T.why_all_returned);
}

async function pick(ln, input) {
  let milli = 0;
  if (ln.weighed) milli = input.checked ? ln.qty_left : 0;
  else {
    const n = Number(input.value);
    if (!Number.isInteger(n) || n < 0) return problem(T.why_bad_request);
    milli = n * 1000;
  }
  if (milli) picks.set(ln.line, milli);
  else picks.delete(ln.line);
  await quote();
}

function body() {
  return { sale_id: sale.sale_id, picks: [...picks].map(([line, q]) => ({ line, qty_milli: q })) };
}

async function quote() {
  $("done").hidden = true;
  if (!picks.size) {
    $("quote").hidden = true;
    return;
  }
  const q = await call("/returns/quote", "POST", body());
  $("quote").hidden = !q;
  if (!q) return;
  const list = $("refund-tenders");
  list.replaceChildren();
  for (const p of q.payments) {
    const li = document.createElement("li");
    li.className = "row";
    li.innerHTML = "<span></span><span class='num'></span>";
    li.firstChild.textContent = T[p.tender] || p.tender;
    li.lastChild.textContent = yuan(p.amount_fen);
    list.appendChild(li);
  }
  $("refund-total").textContent = yuan(q.total_fen);
  $("points-back").hidden = !q.points_reversed;
  $("points-back").textContent = `${T.points_back}: ${q.points_reversed}`;
  $("coupons-back").hidden = !q.coupons_released.length;
  $("coupons-back").textContent = `${T.coupons_back}: ${q.coupons_released.join(", ")}`;
}

async function find(q) {
  $("done").hidden = true;
  $("quote").hidden = true;
  const s = await call("/returns/receipt?q=" + encodeURIComponent(q));
  if (s) renderSale(s);
  else $("sale").hidden = true;
}

$("find").addEventListener("submit", (e) => {
  e.preventDefault();
  const q = $("receipt").value.trim();
  if (q) find(q);
});

$("confirm").addEventListener("click", async () => {
  const btn = $("confirm");
  btn.disabled = true; // one refund per click; a retry of it is the same refund (the key)
  const key = crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random();
  try {
    const r = await call("/returns/refund", "POST", { ...body(), reason: $("reason").value },
                        { "Idempotency-Key": key });
    if (!r) return;
    const id = sale.sale_id; // by id: another store's receipt number is not in this journal
    $("reason").value = "";
    await find(id);
    $("done").textContent = `${T.refund_done} ${yuan(r.total_fen)}`;
    $("done").hidden = false;
  } finally {
    btn.disabled = false;
  }
});

// the lane's scanner: a receipt scanned here is looked up (the basket hears it too, and
// only says it is no item)
const es = new EventSource(API + "/events");
es.addEventListener("scan", (e) => {
  const d = JSON.parse(e.data);
  const code = d.code || d.text;
  if (code) {
    $("receipt").value = code;
    find(code);
  }
});
// a keyboard-wedge scanner types into the page: anything typed outside a field goes to the
// receipt field, and its Enter looks the receipt up
document.addEventListener("keydown", (e) => {
  const inField = ["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName);
  if (!inField && e.key.length === 1) $("receipt").focus();
});
