/* Supplier search on the static index written by alureg/searchindex.py
 * (docs/adr/0010-search.md). Free text (every word a prefix, case and accents folded),
 * filters with counts, sorting, the state in the URL, CSV export of the result set.
 * Loads meta.json and docs.json once (filters, counts and result rows come from them),
 * then only the text shards a word's prefix falls in; full rows only for an export. */
(function () {
  "use strict";
  var form = document.getElementById("supplier-search");
  if (!form) return;
  var PAGE = 20, MAX_SHARDS = 2;
  var input = document.getElementById("q"), sortSel = document.getElementById("sort");
  var table = document.getElementById("search-results"), tbody = table.querySelector("tbody");
  var count = document.getElementById("search-count"), more = document.getElementById("more");
  var exportButton = document.getElementById("export");
  var root = new URL("../", location.href), base = new URL("search/index/", root);
  var BADGES = { "Active": "active", "Suspended": "suspended", "Withdrawn": "withdrawn", "Expired": "expired",
                 "Superseded": "superseded", "Not yet valid": "not-yet-valid", "No certificate": "expired" };
  var meta, docs, results = [], shown = 0, generation = 0, cache = {};

  function load(name) {
    cache[name] = cache[name] || fetch(new URL(name, base)).then(function (r) {
      if (!r.ok) throw new Error(name);
      return r.json();
    });
    return cache[name];
  }
  function fold(text) { return text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase(); }
  function words(text) { return fold(text).match(/[a-z0-9]+(?:-[a-z0-9]+)*/g) || []; }
  function selects() { return Array.prototype.slice.call(form.querySelectorAll("select[data-facet]")); }

  // --- text: the set of suppliers whose tokens start with every word ------------------
  function shardRange(word) {  // shards that can hold tokens starting with word
    var s = meta.shards, lo = 0, hi = s.length - 1, end = word + "\uffff";
    while (lo < s.length - 1 && s[lo + 1] <= word) lo++;
    while (hi > 0 && s[hi] > end) hi--;
    return [lo, Math.max(lo, hi)];
  }
  function matchWord(word) {
    var range = shardRange(word);
    if (range[1] - range[0] + 1 > MAX_SHARDS) return Promise.resolve(null);  // too short to narrow
    var names = [];
    for (var k = range[0]; k <= range[1]; k++) names.push("t" + k + ".json");
    return Promise.all(names.map(load)).then(function (shards) {
      var hit = new Uint8Array(meta.count);
      shards.forEach(function (shard) {
        shard.t.forEach(function (token, i) {
          if (token.lastIndexOf(word, 0) !== 0) return;
          var id = 0;
          shard.p[i].forEach(function (delta) { id += delta; hit[id] = 1; });
        });
      });
      return hit;
    });
  }
  function textMatches(query) {
    var ws = words(query);
    if (!ws.length) return Promise.resolve({ set: null, short: false });
    return Promise.all(ws.map(matchWord)).then(function (hits) {
      var set = null, short = false;
      hits.forEach(function (hit) {
        if (!hit) { short = true; return; }
        if (!set) { set = hit; return; }
        for (var i = 0; i < set.length; i++) set[i] = set[i] & hit[i];
      });
      return { set: set, short: short && !set };
    });
  }

  // --- filters and counts -------------------------------------------------------------
  function chosen() {
    var out = {};
    selects().forEach(function (s) { if (s.value) out[s.getAttribute("data-facet")] = s.value; });
    return out;
  }
  function search(text) {
    var want = chosen(), packed = meta.packed, n = meta.count, bits = docs.bits, has = text.set;
    var flat = new Int32Array(31), country = new Int32Array(meta.facets.country.length), hits = [];
    var mask = 0, home = -1, ranges = {};  // chosen packed values as one mask; chosen country
    packed.forEach(function (f) {
      var lo = meta.offsets[f], len = meta.facets[f].length;
      ranges[f] = (len >= 31 ? -1 : ((1 << len) - 1)) << lo;
      if (want[f]) mask |= 1 << (lo + meta.facets[f].indexOf(want[f]));
    });
    if (want.country) home = meta.facets.country.indexOf(want.country);
    for (var i = 0; i < n; i++) {
      if (has && !has[i]) continue;
      var b = bits[i], mine = docs.countries[i];
      var missing = mask & ~b, inCountry = home < 0 || mine.indexOf(home) >= 0;
      var fails = (inCountry ? 0 : 1), failed = inCountry ? null : "country";
      if (missing) {  // which chosen packed facets fail (at most one may, for counts)
        for (var p = 0; p < packed.length && fails < 2; p++) if (missing & ranges[packed[p]]) { fails++; failed = packed[p]; }
      }
      if (fails > 1) continue;
      // Counts for a facet ignore that facet's own choice, so its other values stay visible.
      var add = fails === 0 ? b : (failed === "country" ? 0 : b & ranges[failed]);
      while (add) { var low = add & -add; flat[31 - Math.clz32(low)]++; add ^= low; }
      if (fails === 0 || failed === "country") for (var m = 0; m < mine.length; m++) country[mine[m]]++;
      if (fails === 0) hits.push(i);
    }
    var counts = { country: country };
    packed.forEach(function (f) {
      var lo = meta.offsets[f];
      counts[f] = meta.facets[f].map(function (v, k) { return flat[lo + k]; });
    });
    if (sortSel.value === "valid_until") hits.sort(function (x, y) { return docs.days[y] - docs.days[x] || x - y; });
    return { hits: hits, counts: counts };
  }

  function fillCounts(counts) {
    selects().forEach(function (s) {
      var facet = s.getAttribute("data-facet"), current = s.value;
      s.textContent = "";
      var all = document.createElement("option"); all.value = ""; all.textContent = "All"; s.appendChild(all);
      meta.facets[facet].forEach(function (value, k) {
        var o = document.createElement("option");
        o.value = value; o.textContent = value + " (" + counts[facet][k] + ")";
        s.appendChild(o);
      });
      s.value = current;
    });
  }

  // --- results ------------------------------------------------------------------------
  function rowsFor(ids) {
    var files = {};
    ids.forEach(function (i) { files["r" + Math.floor(i / meta.rows_per_file) + ".json"] = 1; });
    return Promise.all(Object.keys(files).map(load)).then(function () {
      return Promise.all(ids.map(function (i) {
        return load("r" + Math.floor(i / meta.rows_per_file) + ".json").then(function (rows) { return rows[i % meta.rows_per_file]; });
      }));
    });
  }
  function cell(tr, text, node) { var td = document.createElement("td"); if (node) td.appendChild(node); else td.textContent = text; tr.appendChild(td); }
  function day(n) { var d = new Date(meta.epoch + "T00:00:00Z"); d.setUTCDate(d.getUTCDate() + n); return d.toISOString().slice(0, 10); }
  function render(i) {  // a result row, from docs.json alone
    var tr = document.createElement("tr");
    var a = document.createElement("a"), name = document.createElement("span"), status = meta.statuses[docs.status[i]];
    a.href = new URL("members/" + docs.ids[i] + "/", root).href; a.textContent = docs.names[i];
    name.appendChild(a); name.appendChild(document.createTextNode(" (" + docs.ids[i] + ")"));
    cell(tr, "", name); cell(tr, meta.facets.country[docs.home[i]]); cell(tr, meta.held[docs.held[i]] || "—");
    var badge = document.createElement("span");
    badge.className = "badge badge--" + (BADGES[status] || "expired"); badge.textContent = status;
    cell(tr, "", badge); cell(tr, docs.days[i] ? day(docs.days[i]) : "—");
    tbody.appendChild(tr);
  }
  function showMore() {
    var slice = results.slice(shown, shown + PAGE);
    shown += slice.length;
    slice.forEach(render);
    more.hidden = shown >= results.length;
  }

  function writeUrl() {
    var params = new URLSearchParams();
    if (input.value.trim()) params.set("q", input.value.trim());
    selects().forEach(function (s) { if (s.value) params.set(s.getAttribute("data-facet"), s.value); });
    if (sortSel.value) params.set("sort", sortSel.value);
    var query = params.toString();
    history.replaceState(null, "", location.pathname + (query ? "?" + query : ""));
  }

  function run() {
    var mine = ++generation, started = performance.now();
    writeUrl();
    return textMatches(input.value).then(function (text) {
      if (mine !== generation) return;
      var found = search(text);
      results = found.hits; shown = 0;
      tbody.textContent = "";
      fillCounts(found.counts);
      table.hidden = results.length === 0;
      exportButton.hidden = results.length === 0;
      count.textContent = (text.short ? "Type more of the word to narrow the search. " : "") +
        results.length + (results.length === 1 ? " supplier" : " suppliers");
      showMore();
    }).then(function () {
      if (mine !== generation) return;
      // For the benchmark: from the keystroke to results on screen.
      document.documentElement.setAttribute("data-answer-ms", String(Math.round(performance.now() - started)));
      form.setAttribute("data-ready", String(mine));
    });
  }

  function csvField(v) {
    v = String(v == null ? "" : v);
    if (/^[=+\-@\t\r]/.test(v)) v = "'" + v;  // no formulas in spreadsheets
    return /[",\r\n]/.test(v) ? '"' + v.replace(/"/g, '""') + '"' : v;
  }
  exportButton.addEventListener("click", function () {
    rowsFor(results.slice()).then(function (rows) {
      var header = ["id", "name", "country", "class", "standards", "status", "valid_until", "certificates", "page"];
      var lines = [header.join(",")].concat(rows.map(function (r) {
        return [r[1], r[0], r[2], r[3], r[4], r[5], r[6], r[7], r[8]].map(csvField).join(",");
      }));
      var a = document.createElement("a");
      a.href = URL.createObjectURL(new Blob([lines.join("\r\n") + "\r\n"], { type: "text/csv" }));
      a.download = "suppliers.csv";
      document.body.appendChild(a); a.click(); a.remove();
    });
  });
  more.addEventListener("click", showMore);
  input.addEventListener("input", run);
  form.addEventListener("change", run);
  form.addEventListener("submit", function (e) { e.preventDefault(); run(); });

  Promise.all([load("meta.json"), load("docs.json")]).then(function (loaded) {
    meta = loaded[0]; docs = loaded[1];
    var params = new URLSearchParams(location.search);
    input.value = params.get("q") || "";
    sortSel.value = params.get("sort") || "";
    fillCounts(search({ set: null }).counts);
    selects().forEach(function (s) {
      var want = params.get(s.getAttribute("data-facet"));
      if (want && meta.facets[s.getAttribute("data-facet")].indexOf(want) >= 0) s.value = want;
    });
    form.hidden = false;
    return run();
  }).catch(function () { count.textContent = "The search index could not be loaded."; });
})();
