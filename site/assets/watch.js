/* Buyers' watch list, kept in this browser's localStorage only.
 *
 * Buttons [data-watch=<member id>][data-watch-name] (member and certificate pages) add
 * or remove a supplier. #watched-suppliers (the /watch/ page) lists the saved suppliers with
 * the status of their membership and certificates computed for today by status.js
 * from /api/v1/status/<member id>.json, and highlights every status that differs from
 * the one seen on the last visit; then it remembers today's as seen.
 * Everything is written with textContent: no record value is ever parsed as HTML.
 */
(function () {
  "use strict";

  var KEY = "alureg-watch-v1";
  var ID = /^MEM-[0-9]{1,12}$/;

  function load() {
    try {
      var value = JSON.parse(window.localStorage.getItem(KEY) || "{}");
      return value && typeof value === "object" && !Array.isArray(value) ? value : {};
    } catch (e) { return {}; }
  }

  function save(list) {
    try { window.localStorage.setItem(KEY, JSON.stringify(list)); } catch (e) { /* private mode: nothing kept */ }
  }

  function statusFile(root, mid) {
    return fetch(root + "api/v1/status/" + mid + ".json", { cache: "no-cache" }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    });
  }

  /* {record id: state} for the member and each of its certificates, today. */
  function states(data, mid, at) {
    var S = window.AluregStatus, out = {};
    var m = S.statusOf("member", mid, at, data);
    if (m) out[mid] = m.state;
    Object.keys(data.certificates || {}).sort().forEach(function (cid) {
      var s = S.statusOf("certificate", cid, at, data);
      if (s) out[cid] = s.state;
    });
    return out;
  }

  function label(state) { return window.AluregStatus.LABELS[state] || state; }

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }

  // --- the Watch button on record pages ------------------------------------------
  function setupButton(button) {
    var mid = button.getAttribute("data-watch");
    if (!ID.test(mid)) return;
    var root = button.getAttribute("data-root") || "";
    function show() {
      var watched = Object.prototype.hasOwnProperty.call(load(), mid);
      button.textContent = watched ? "Stop watching this supplier" : "Watch this supplier";
      button.setAttribute("aria-pressed", watched ? "true" : "false");
    }
    button.addEventListener("click", function () {
      var list = load();
      if (Object.prototype.hasOwnProperty.call(list, mid)) {
        delete list[mid];
        save(list);
        show();
        return;
      }
      list[mid] = { name: button.getAttribute("data-watch-name") || mid, seen: null, added: window.AluregStatus.today() };
      save(list);
      show();
      // What is true today becomes the baseline that later visits compare with.
      statusFile(root, mid).then(function (data) {
        var now = load();
        if (!now[mid]) return;
        now[mid].seen = states(data, mid, window.AluregStatus.today());
        now[mid].visited = window.AluregStatus.today();
        save(now);
      }).catch(function () { /* the watch page sets the baseline instead */ });
    });
    button.hidden = false;
    show();
  }

  // --- the watch list page ---------------------------------------------------------
  function renderItem(root, mid, entry, data, at) {
    var item = el("li", null, "watch-item");
    item.setAttribute("data-watch-item", mid);
    var head = el("p");
    var link = el("a", entry.name);
    link.href = root + "members/" + mid + "/";
    head.appendChild(link);
    head.appendChild(document.createTextNode(" (" + mid + ")"));
    item.appendChild(head);
    if (!data) {
      item.appendChild(el("p", "Could not load the current status of " + mid + ".", "watch-error"));
      return { item: item, now: null };
    }
    var now = states(data, mid, at);
    var seen = entry.seen || null;
    var changes = [];
    if (seen) {
      Object.keys(now).forEach(function (id) {
        if (!(id in seen)) changes.push(id + ": new, " + label(now[id]));
        else if (seen[id] !== now[id]) changes.push(id + ": " + label(seen[id]) + " → " + label(now[id]));
      });
    }
    var list = el("ul", null, "watch-states");
    Object.keys(now).forEach(function (id) {
      var li = el("li", (id === mid ? "Membership" : "Certificate " + id) + ": ");
      var badge = el("span", label(now[id]), "badge badge--" + now[id]);
      badge.setAttribute("data-state", now[id]);
      li.appendChild(badge);
      list.appendChild(li);
    });
    item.appendChild(list);
    if (changes.length) {
      item.classList.add("watch-item--changed");
      item.setAttribute("data-changed", "true");
      var box = el("div", null, "notice");
      box.setAttribute("role", "note");
      box.appendChild(el("strong", "Changed since your last visit" + (entry.visited ? " (" + entry.visited + ")" : "") + ":"));
      var ul = el("ul");
      changes.forEach(function (c) { ul.appendChild(el("li", c)); });
      box.appendChild(ul);
      item.appendChild(box);
    } else if (!seen) {
      item.appendChild(el("p", "First visit since you added it: changes will be highlighted from now on."));
    }
    var remove = el("button", "Remove " + entry.name, "watch-remove");
    remove.type = "button";
    remove.addEventListener("click", function () {
      var list2 = load();
      delete list2[mid];
      save(list2);
      item.remove();
    });
    item.appendChild(remove);
    return { item: item, now: now };
  }

  function renderList(box) {
    var root = box.getAttribute("data-root") || "";
    var list = load();
    var ids = Object.keys(list).filter(function (id) { return ID.test(id); });
    box.textContent = "";
    if (!ids.length) {
      box.appendChild(el("p", "Your watch list is empty. Open a supplier's page and press “Watch this supplier”."));
      box.setAttribute("data-ready", "true");
      return;
    }
    var at = window.AluregStatus.today();
    ids.sort(function (a, b) { return String(list[a].name).localeCompare(String(list[b].name)); });
    Promise.all(ids.map(function (mid) {
      return statusFile(root, mid).then(function (d) { return d; }, function () { return null; });
    })).then(function (files) {
      var ul = el("ul", null, "watch-list");
      var changed = 0;
      var updated = load();
      ids.forEach(function (mid, i) {
        var result = renderItem(root, mid, list[mid], files[i], at);
        if (result.item.getAttribute("data-changed")) changed++;
        ul.appendChild(result.item);
        if (result.now && updated[mid]) {
          updated[mid].seen = result.now;
          updated[mid].visited = at;
        }
      });
      box.appendChild(el("p", ids.length + " supplier" + (ids.length === 1 ? "" : "s") + " watched; " +
        changed + " changed since your last visit. Status computed for today, " + at + " (UTC).", "count"));
      box.appendChild(ul);
      save(updated);
      box.setAttribute("data-ready", "true");
    });
  }

  function run() {
    var buttons = document.querySelectorAll("[data-watch]");
    for (var i = 0; i < buttons.length; i++) setupButton(buttons[i]);
    var box = document.getElementById("watched-suppliers");
    if (box) renderList(box);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", run);
  else run();
})();
