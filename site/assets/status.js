/* Status at view time: a mirror of alureg/status.py.
 *
 * Pages carry dates, not verdicts. This script recomputes every status on the page for
 * the viewer's day (UTC), so a certificate that expires after the build shows as
 * expired. tests/test_site_browser.py checks that it agrees with the Python function on
 * every sample record at many dates; change both together.
 *
 * Data: <script type="application/json" id="registry-status"> with members,
 * certificates and claims (see alureg/sitemodel.py, status_data). Elements:
 *   [data-status-kind][data-status-id]  a badge: text and class are set
 *   [data-reason-of]                    the reason(s) for that record's status
 *   [data-asof]                         says for which day status was computed
 */
(function () {
  "use strict";

  var LABELS = {
    "active": "Active", "suspended": "Suspended", "withdrawn": "Withdrawn", "expired": "Expired",
    "not-yet-valid": "Not yet valid", "superseded": "Superseded", "resigned": "Resigned",
    "terminated": "Terminated", "not-yet-member": "Not yet a member", "valid": "Valid",
    "not-valid": "Not valid"
  };

  function historyAt(history, at) {
    var current = null;
    for (var i = 0; i < history.length; i++) {
      if (history[i][0] <= at) current = history[i];
    }
    return current;
  }

  function nextDay(day) {
    var t = new Date(day + "T00:00:00Z");
    t.setUTCDate(t.getUTCDate() + 1);
    return t.toISOString().slice(0, 10);
  }

  function st(state, since, reason) { return { state: state, since: since, reason: reason, reasons: [] }; }

  function memberStatus(m, at) {
    var e = historyAt(m.h, at);
    if (at < m.joined || e === null) return st("not-yet-member", m.joined, "joins on " + m.joined);
    return st(e[1], e[0], e[2]);
  }

  function certificateStatus(c, at) {
    if (at < c.from) return st("not-yet-valid", null, "valid from " + c.from);
    var e = historyAt(c.h, at);
    if (e !== null && e[1] === "withdrawn") return st("withdrawn", e[0], e[2]);
    var inForce = c.succ.filter(function (s) { return s[1] <= at; })
      .sort(function (a, b) { return a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0; });
    if (inForce.length) return st("superseded", inForce[0][1], "superseded by " + inForce[0][0]);
    if (at > c.until) return st("expired", nextDay(c.until), "validity ended on " + c.until);
    if (e !== null && e[1] === "suspended") return st("suspended", e[0], e[2]);
    if (e === null) return st("not-yet-valid", null, "issued on " + c.issued);
    return st("active", e[0], e[2]);
  }

  function change(subject, s) {
    if (s.state === "expired") return subject + " expired on " + s.since;
    if (s.state === "not-yet-valid" || s.state === "not-yet-member") return subject + " not in force yet: " + s.reason;
    if (s.state === "superseded") return subject + " " + s.reason + " on " + s.since;
    return subject + " " + s.state + " on " + s.since + ": " + s.reason;
  }

  function claimStatus(id, cl, at, data) {
    var reasons = [];
    var e = historyAt(cl.h, at);
    if (at < cl.approved || e === null) reasons.push("claim " + id + " not approved until " + cl.approved);
    else if (e[1] === "withdrawn") reasons.push("claim " + id + " withdrawn on " + e[0] + ": " + e[2]);
    if (at > cl.until) reasons.push("claim " + id + " expired on " + nextDay(cl.until));
    var holder = data.members[cl.holder];
    if (!holder) reasons.push("holder " + cl.holder + " is not in the registry");
    else {
      var ms = memberStatus(holder, at);
      if (ms.state !== "active") reasons.push(change("holder " + cl.holder + " membership", ms));
    }
    cl.certs.forEach(function (cid) {
      var c = data.certificates[cid];
      if (!c) { reasons.push("certificate " + cid + " is not in the registry"); return; }
      var cs = certificateStatus(c, at);
      if (cs.state !== "active") reasons.push(change("certificate " + cid, cs));
    });
    if (reasons.length) { var s = st("not-valid", null, reasons[0]); s.reasons = reasons; return s; }
    return st("valid", cl.approved, null);
  }

  function statusOf(kind, id, at, data) {
    if (kind === "member" && data.members[id]) return memberStatus(data.members[id], at);
    if (kind === "certificate" && data.certificates[id]) return certificateStatus(data.certificates[id], at);
    if (kind === "claim" && data.claims[id]) return claimStatus(id, data.claims[id], at, data);
    return null;
  }

  function today() { return new Date().toISOString().slice(0, 10); }

  function apply(data, at) {
    var badges = document.querySelectorAll("[data-status-kind][data-status-id]");
    for (var i = 0; i < badges.length; i++) {
      var el = badges[i];
      var s = statusOf(el.getAttribute("data-status-kind"), el.getAttribute("data-status-id"), at, data);
      if (!s) continue;
      el.textContent = LABELS[s.state] || s.state;
      el.className = el.className.replace(/\bbadge--[a-z-]+/g, "").trim() + " badge--" + s.state;
      el.setAttribute("data-state", s.state);
      var row = el.closest("[data-row]");
      if (row) row.setAttribute("data-state", s.state);
    }
    var reasons = document.querySelectorAll("[data-reason-of]");
    for (var j = 0; j < reasons.length; j++) {
      var r = reasons[j];
      var parts = r.getAttribute("data-reason-of").split(":");
      var rs = statusOf(parts[0], parts[1], at, data);
      if (!rs) continue;
      var text = rs.reasons.length ? rs.reasons.join("; ") : (rs.reason || "");
      if (rs.since && rs.state !== "valid") text = "since " + rs.since + (text ? ": " + text : "");
      r.textContent = text;
    }
    var asof = document.querySelectorAll("[data-asof]");
    for (var k = 0; k < asof.length; k++) {
      asof[k].textContent = "Status computed in your browser for today, " + at +
        " (UTC), from the dates in the registry published on " + data.built + ".";
    }
    document.documentElement.setAttribute("data-status-at", at);
  }

  function run() {
    var node = document.getElementById("registry-status");
    if (!node) return;
    apply(JSON.parse(node.textContent), today());
  }

  window.AluregStatus = {
    LABELS: LABELS, memberStatus: memberStatus, certificateStatus: certificateStatus, claimStatus: claimStatus,
    statusOf: statusOf, apply: apply, today: today
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", run);
  else run();
})();
