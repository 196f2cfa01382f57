/* Client-side filtering of the directory tables (members, certified entities).
 * Every <select data-filter="KEY"> and <input data-filter="text"> narrows the rows of
 * the table named by its form's data-table; a row matches when its data-KEY holds the
 * chosen value (space-separated lists allowed). Without JavaScript every row shows. */
(function () {
  "use strict";
  function setup(form) {
    var table = document.getElementById(form.getAttribute("data-table"));
    if (!table) return;
    var rows = table.querySelectorAll("[data-row]");
    var count = document.getElementById(form.getAttribute("data-count"));
    function update() {
      var wanted = [];
      form.querySelectorAll("[data-filter]").forEach(function (f) {
        if (f.value) wanted.push([f.getAttribute("data-filter"), f.value.toLowerCase()]);
      });
      var shown = 0;
      rows.forEach(function (row) {
        var ok = wanted.every(function (w) {
          var have = (row.getAttribute("data-" + w[0]) || "").toLowerCase();
          return w[0] === "text" ? have.indexOf(w[1]) !== -1 : have.split(" ").indexOf(w[1]) !== -1;
        });
        row.hidden = !ok;
        if (ok) shown++;
      });
      table.querySelectorAll("[data-group]").forEach(function (g) {
        g.hidden = !g.querySelector("[data-row]:not([hidden])");
      });
      if (count) count.textContent = shown + " of " + rows.length + " shown";
    }
    form.addEventListener("input", update);
    form.addEventListener("change", update);
    form.addEventListener("submit", function (e) { e.preventDefault(); update(); });
    form.hidden = false;
    update();
  }
  function run() { document.querySelectorAll("form[data-table]").forEach(setup); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", run);
  else run();
})();
