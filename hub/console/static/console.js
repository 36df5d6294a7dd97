// The console's small helpers: the phone menu toggle, and charts drawn from JSON the page
// embeds. A chart is <div class="chart" data-chart="ID"> plus
// <script type="application/json" id="ID">{an ECharts option}</script>; a series marked
// "fen": true holds integer fen and is shown in yuan. ECharts (vendored, served by the hub) is
// loaded only on pages that have a chart.
(function () {
  "use strict";
  var ECHARTS = "/console/static/vendor/echarts/echarts.min.js";

  document.querySelectorAll("[data-toggle]").forEach(function (button) {
    button.addEventListener("click", function () {
      var target = document.getElementById(button.getAttribute("data-toggle"));
      var open = target.classList.toggle("open");
      button.setAttribute("aria-expanded", open ? "true" : "false");
    });
  });

  function option(raw) {
    var opt = JSON.parse(raw);
    (opt.series || []).forEach(function (s) {
      if (s.fen) {
        s.data = s.data.map(function (v) { return v / 100; });
        delete s.fen;
      }
    });
    opt.tooltip = opt.tooltip || { trigger: "axis" };
    opt.grid = opt.grid || { left: 8, right: 8, top: 36, bottom: 8, containLabel: true };
    return opt;
  }

  function draw(el) {
    var source = document.getElementById(el.getAttribute("data-chart"));
    var chart = window.echarts.init(el);
    chart.setOption(option(source.textContent));
    window.addEventListener("resize", function () { chart.resize(); });
    el.setAttribute("data-drawn", "true");
  }

  var charts = document.querySelectorAll("[data-chart]");
  if (!charts.length) return;
  var script = document.createElement("script");
  script.src = ECHARTS;
  script.onload = function () { charts.forEach(draw); };
  document.head.appendChild(script);
  window.storegwDrawChart = draw; // for pages that add a chart later
})();
