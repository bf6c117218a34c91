// bidder dashboard: draws the campaign page's charts with the vendored uPlot, and refreshes pages whose
// <main> asks for it (data-refresh="seconds") by fetching the page again and swapping <main>.
(function () {
  "use strict";
  var main = document.querySelector("main[data-refresh]");
  if (!main) { return; }
  var every = Math.max(10, parseInt(main.dataset.refresh, 10) || 30) * 1000;
  setInterval(function () {
    if (document.hidden) { return; }
    fetch(window.location.href, {credentials: "same-origin", headers: {"X-Partial": "1"}})
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("main");
        var now = document.querySelector("main");
        if (fresh && now) { now.replaceWith(fresh); }
      })
      .catch(function () { /* offline for a moment: the next tick tries again */ });
  }, every);
})();
(function () {
  "use strict";
  var el = document.getElementById("chart-data");
  if (!el || typeof uPlot === "undefined") { return; }
  var data = JSON.parse(el.textContent);
  var palette = ["#7b2ff7", "#e67e22", "#16a085", "#2980b9", "#c0392b", "#8e44ad", "#27ae60", "#d35400"];
  var drawn = 0;
  document.querySelectorAll(".chart[data-chart]").forEach(function (box) {
    var spec = data[box.dataset.chart];
    var labels = (box.dataset.labels || "").split("|");
    var title = box.dataset.title || "";
    if (!spec || !spec.series.length || !spec.x.length) {
      box.innerHTML = "";
      var h = document.createElement("div");
      h.className = "empty";
      h.textContent = title + ": —";
      box.appendChild(h);
      box.dataset.drawn = "empty";
      return;
    }
    var series = [{}];
    var arrays = [spec.x];
    spec.series.forEach(function (s, i) {
      var opt = {label: labels[i] || s.label, stroke: palette[i % palette.length], width: 2, spanGaps: true};
      if (spec.step) { opt.paths = uPlot.paths.stepped({align: 1}); }
      if (!spec.step && spec.x.length < 40) { opt.points = {show: true, size: 5}; }
      series.push(opt);
      arrays.push(s.data);
    });
    var width = Math.max(320, box.clientWidth - 16);
    var opts = {
      title: title, width: width, height: 240, series: series,
      scales: {y: spec.invert ? {dir: -1} : {}},
      axes: [{}, {size: 60}],
      legend: {live: true},
    };
    var plot = new uPlot(opts, arrays, box);
    box.dataset.drawn = String(spec.series.length);
    box._plot = plot;
    drawn += 1;
  });
  document.body.dataset.charts = String(drawn);
  window.addEventListener("resize", function () {
    document.querySelectorAll(".chart[data-chart]").forEach(function (box) {
      if (box._plot) { box._plot.setSize({width: Math.max(320, box.clientWidth - 16), height: 240}); }
    });
  });
})();
