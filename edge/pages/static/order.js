// The staff order page: a basket of this phone's own, items found by name, a member, and the
// basket sent to a lane, where it waits among the suspended sales until the cashier takes it.
"use strict";
function render(b) {
  renderLines(b, (ln, d) => setQty(ln, d, render), (ln) => voidLine(ln, render));
}

setupCommon(render);
$("find").addEventListener("submit", async (e) => {
  e.preventDefault();
  const q = $("q").value.trim();
  if (!q) return;
  const r = await call("/items?q=" + encodeURIComponent(q));
  const list = $("found");
  list.replaceChildren();
  for (const it of (r && r.items) || []) {
    const li = document.createElement("li");
    const btn = document.createElement("button");
    btn.textContent = `${it.name} ${yuan(it.price_fen)}${it.unit === "kg" ? "/kg" : ""}`;
    btn.addEventListener("click", async () => {
      const b = await call("/basket/scan", "POST", { code: it.sku });
      if (b) render(b);
    });
    li.appendChild(btn);
    list.appendChild(li);
  }
});
$("send").addEventListener("submit", async (e) => {
  e.preventDefault();
  const to = $("to").value;
  const b = await call("/basket/suspend", "POST", { to_lane: to, label: T.title_order });
  if (b) {
    render(b);
    $("done").textContent = `${T.sent} ${to}`;
    $("done").hidden = false;
  }
});
call("/basket").then((b) => b && render(b));
