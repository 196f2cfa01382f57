/* Bench harness: the supplier search page as first built on Pagefind (its JS API), kept
 * so that bench/search_bench.py can measure Pagefind against the index the site uses.
 * Not shipped with the site. */
(function () {
  "use strict";
  var form = document.getElementById("supplier-search");
  if (!form) return;
  var FACETS = ["standard", "version", "type", "status", "country", "activity", "class"];
  var PAGE = 20;
  var input = document.getElementById("q"), sortSel = document.getElementById("sort");
  var table = document.getElementById("search-results"), tbody = table.querySelector("tbody");
  var count = document.getElementById("search-count"), more = document.getElementById("more");
  var exportButton = document.getElementById("export");
  var root = new URL("../", location.href);
  var pagefind, results = [], shown = 0, generation = 0, rowsPromise = null;
  var BADGES = { "Active": "active", "Suspended": "suspended", "Withdrawn": "withdrawn", "Expired": "expired",
                 "Superseded": "superseded", "Not yet valid": "not-yet-valid", "No certificate": "expired" };

  function selects() { return Array.prototype.slice.call(form.querySelectorAll("select[data-facet]")); }
  function filters() {
    var f = {};
    selects().forEach(function (s) { if (s.value) f[s.getAttribute("data-facet")] = [s.value]; });
    return f;
  }
  function sortOption() {
    if (sortSel.value === "name") return { name: "asc" };
    if (sortSel.value === "valid_until") return { valid_until: "desc" };
    return input.value.trim() ? undefined : { name: "asc" };
  }

  function fillCounts(counts, keep) {
    selects().forEach(function (s) {
      var facet = s.getAttribute("data-facet"), values = counts[facet] || {}, current = s.value;
      var names = Object.keys(values).sort();
      if (keep && current && names.indexOf(current) < 0) names.push(current);
      s.textContent = "";
      var all = document.createElement("option"); all.value = ""; all.textContent = "All"; s.appendChild(all);
      names.forEach(function (name) {
        var o = document.createElement("option");
        o.value = name; o.textContent = name + " (" + (values[name] || 0) + ")";
        s.appendChild(o);
      });
      s.value = current;
    });
  }

  function writeUrl() {
    var params = new URLSearchParams();
    if (input.value.trim()) params.set("q", input.value.trim());
    selects().forEach(function (s) { if (s.value) params.set(s.getAttribute("data-facet"), s.value); });
    if (sortSel.value) params.set("sort", sortSel.value);
    var query = params.toString();
    history.replaceState(null, "", location.pathname + (query ? "?" + query : ""));
  }

  function readUrl() {
    var params = new URLSearchParams(location.search);
    input.value = params.get("q") || "";
    sortSel.value = params.get("sort") || "";
    return params;
  }

  function cell(tr, text, node) { var td = document.createElement("td"); if (node) td.appendChild(node); else td.textContent = text; tr.appendChild(td); }

  function render(data) {
    var tr = document.createElement("tr");
    var a = document.createElement("a");
    a.href = new URL(data.url, root).href; a.textContent = data.meta.title;
    var name = document.createElement("span"); name.appendChild(a);
    name.appendChild(document.createTextNode(" (" + data.meta.id + ")"));
    cell(tr, "", name);
    cell(tr, data.meta.country);
    cell(tr, data.meta.standards || "—");
    var badge = document.createElement("span");
    badge.className = "badge badge--" + (BADGES[data.meta.status] || "expired");
    badge.textContent = data.meta.status;
    cell(tr, "", badge);
    cell(tr, data.meta.valid_until || "—");
    tbody.appendChild(tr);
  }

  function showMore(mine) {
    var slice = results.slice(shown, shown + PAGE);
    shown += slice.length;
    return Promise.all(slice.map(function (r) { return r.data(); })).then(function (datas) {
      if (mine !== generation) return;
      datas.forEach(render);
      more.hidden = shown >= results.length;
    });
  }

  function run() {
    var mine = ++generation;
    writeUrl();
    var q = input.value.trim();
    var started = performance.now();
    return pagefind.search(q || null, { filters: filters(), sort: sortOption() }).then(function (search) {
      if (mine !== generation || !search) return;
      results = search.results; shown = 0;
      tbody.textContent = "";
      table.hidden = results.length === 0;
      exportButton.hidden = results.length === 0;
      count.textContent = results.length + (results.length === 1 ? " supplier" : " suppliers");
      fillCounts(search.filters, true);
      document.documentElement.setAttribute("data-search-ms", String(Math.round(performance.now() - started)));
      return showMore(mine);
    }).then(function () {
      if (mine !== generation) return;
      // For the benchmark: from the keystroke to the first results on screen.
      document.documentElement.setAttribute("data-answer-ms", String(Math.round(performance.now() - started)));
      form.setAttribute("data-ready", String(mine));
    });
  }

  function csvField(v) { v = String(v == null ? "" : v); if (/^[=+\-@\t\r]/.test(v)) v = "'" + v; return /[",\r\n]/.test(v) ? '"' + v.replace(/"/g, '""') + '"' : v; }

  exportButton.addEventListener("click", function () {
    rowsPromise = rowsPromise || fetch(new URL("search/suppliers.json", root)).then(function (r) { return r.json(); });
    var ids = results.map(function (r) { return r.id; });
    rowsPromise.then(function (table) {
      var lines = [table.header.map(csvField).join(",")];
      ids.forEach(function (id) { var row = table.rows[id]; if (row) lines.push(row.map(csvField).join(",")); });
      var blob = new Blob([lines.join("\r\n") + "\r\n"], { type: "text/csv" });
      var a = document.createElement("a");
      a.href = URL.createObjectURL(blob); a.download = "suppliers.csv";
      document.body.appendChild(a); a.click(); a.remove();
    });
  });
  more.addEventListener("click", function () { showMore(generation); });
  input.addEventListener("input", run);
  form.addEventListener("change", run);
  form.addEventListener("submit", function (e) { e.preventDefault(); run(); });

  import(new URL("pagefind/pagefind.js", root).href).then(function (pf) {
    pagefind = pf;
    return pagefind.options({ baseUrl: root.pathname }).then(function () { return pagefind.filters(); });
  }).then(function (counts) {
    var params = readUrl();
    fillCounts(counts, false);
    selects().forEach(function (s) {
      var want = params.get(s.getAttribute("data-facet"));
      if (want) {
        if (!Array.prototype.some.call(s.options, function (o) { return o.value === want; })) {
          var o = document.createElement("option"); o.value = want; o.textContent = want + " (0)"; s.appendChild(o);
        }
        s.value = want;
      }
    });
    form.hidden = false;
    return run();
  }).catch(function () { count.textContent = "The search index could not be loaded."; });
})();
