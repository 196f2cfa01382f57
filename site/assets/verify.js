/* The claim page's verifier: a mirror of alureg/verify.py, step for step.
 *
 * Trusts nothing but the root-key fingerprints built into the page (#pins). Loads three
 * files — the trust list, the status snapshot and the claim's bundle — and gives the
 * verdict VALID, NOT-VALID (with every reason) or CANNOT-VERIFY (with the reason). Any
 * check that fails, or any error, ends in CANNOT-VERIFY: never a false "valid".
 * Ed25519 comes from WebCrypto; where the browser lacks it, the vendored
 * @noble/ed25519 (vendor/noble-ed25519.js, MIT) does the same.
 * Needs status.js (window.AluregStatus) for the status at the viewer's day.
 */
(function () {
  "use strict";
  var enc = new TextEncoder();
  var B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  var MAY_SIGN = { "trust-list": ["root"], member: ["secretariat"], claim: ["secretariat"],
                   certificate: ["secretariat", "auditor"], "status snapshot": ["publisher"] };

  function Fail(reason) { this.reason = reason; }

  // --- encodings and hashes ---------------------------------------------------------
  function canon(v) {  // RFC 8785 for the JSON we publish (strings, integers, objects, arrays)
    if (Array.isArray(v)) return "[" + v.map(canon).join(",") + "]";
    if (v !== null && typeof v === "object") {
      return "{" + Object.keys(v).sort().map(function (k) { return JSON.stringify(k) + ":" + canon(v[k]); }).join(",") + "}";
    }
    return JSON.stringify(v);
  }
  function b58decode(s) {
    var bytes = [0];
    for (var i = 0; i < s.length; i++) {
      var carry = B58.indexOf(s[i]);
      if (carry < 0) throw new Error("not base58");
      for (var j = 0; j < bytes.length; j++) { carry += bytes[j] * 58; bytes[j] = carry & 255; carry >>= 8; }
      while (carry) { bytes.push(carry & 255); carry >>= 8; }
    }
    for (var k = 0; k < s.length && s[k] === "1"; k++) bytes.push(0);
    return new Uint8Array(bytes.reverse());
  }
  function hex(buf) { return Array.prototype.map.call(new Uint8Array(buf), function (b) { return (b + 256).toString(16).slice(1); }).join(""); }
  function unhex(h) { var out = new Uint8Array(h.length / 2); for (var i = 0; i < out.length; i++) out[i] = parseInt(h.substr(i * 2, 2), 16); return out; }
  function concat(parts) {
    var n = 0, i; for (i = 0; i < parts.length; i++) n += parts[i].length;
    var out = new Uint8Array(n), at = 0;
    for (i = 0; i < parts.length; i++) { out.set(parts[i], at); at += parts[i].length; }
    return out;
  }
  function sha256(bytes) { return crypto.subtle.digest("SHA-256", bytes).then(function (b) { return new Uint8Array(b); }); }
  function digest(record) { return sha256(enc.encode(canon(record))); }
  function multikey(mb) {
    if (mb[0] !== "z") throw new Error("not multibase");
    var raw = b58decode(mb.slice(1));
    if (raw.length !== 34 || raw[0] !== 0xed || raw[1] !== 0x01) throw new Error("not an Ed25519 multikey");
    return raw.slice(2);
  }

  var noble = null;
  var SCRIPT = document.currentScript && document.currentScript.src;  // only set while loading
  function ed25519Verify(pub, sig, msg) {
    return crypto.subtle.importKey("raw", pub, { name: "Ed25519" }, false, ["verify"]).then(function (key) {
      return crypto.subtle.verify({ name: "Ed25519" }, key, sig, msg);
    }, function () {  // no Ed25519 in this browser's WebCrypto: the vendored library
      noble = noble || import(new URL("vendor/noble-ed25519.js", SCRIPT).href);
      return noble.then(function (ed) { return ed.verifyAsync(sig, msg, pub); });
    });
  }

  // --- proofs and the trust list (alureg/trust.py) -----------------------------------
  function unsignedOf(record) { var o = {}; Object.keys(record).forEach(function (k) { if (k !== "proof") o[k] = record[k]; }); return o; }

  function checkProof(doc, proof, kind, keys) {
    var vm = /^did:key:(z[1-9A-HJ-NP-Za-km-z]+)#(z[1-9A-HJ-NP-Za-km-z]+)$/.exec(proof.verificationMethod || "");
    if (!vm || vm[1] !== vm[2] || proof.type !== "DataIntegrityProof" || proof.cryptosuite !== "eddsa-jcs-2022" ||
        proof.proofPurpose !== "assertionMethod") return Promise.resolve(null);
    var key = keys[vm[1]];
    if (!key || key.revoked) return Promise.resolve(null);
    var day = String(proof.created || "").slice(0, 10);
    if (day < key.valid_from || (key.valid_until && day > key.valid_until)) return Promise.resolve(null);
    if (MAY_SIGN[kind].indexOf(key.role) < 0) return Promise.resolve(null);
    var options = {}; Object.keys(proof).forEach(function (k) { if (k !== "proofValue") options[k] = proof[k]; });
    return Promise.all([sha256(enc.encode(canon(options))), sha256(enc.encode(canon(doc)))]).then(function (h) {
      return ed25519Verify(multikey(key.public_key), b58decode(String(proof.proofValue).slice(1)), concat(h));
    }).then(function (ok) { return ok ? key : null; }, function () { return null; });
  }

  // Every proof good, and the signers the kind requires (alureg/trust.py, verify_record).
  function verifyRecord(record, kind, keys, pins) {
    var proofs = record.proof || [];
    if (!proofs.length) return Promise.resolve(false);
    var doc = unsignedOf(record);
    return Promise.all(proofs.map(function (p) { return checkProof(doc, p, kind, keys); })).then(function (signers) {
      if (signers.indexOf(null) >= 0) return false;
      if (kind === "trust-list") {
        return Promise.all(signers.map(function (k) { return sha256(multikey(k.public_key)); })).then(function (fps) {
          var ids = {};
          fps.forEach(function (fp, i) { if (pins.roots.indexOf("sha256:" + hex(fp)) >= 0) ids[signers[i].id] = 1; });
          return Object.keys(ids).length >= pins.threshold;
        });
      }
      if (kind === "status snapshot") return true;
      var roles = signers.map(function (k) { return k.role; });
      if (roles.indexOf("secretariat") < 0) return false;
      if (kind === "certificate") return signers.some(function (k) { return k.role === "auditor" && k.audit_firm === record.audit.firm; });
      return true;
    });
  }

  function keysOf(trust) {
    var keys = {}, ids = {};
    trust.keys.forEach(function (k) {
      if (ids[k.id] || keys[k.public_key]) throw new Fail("the trust list is not signed by the scheme's root keys");
      ids[k.id] = 1; keys[k.public_key] = k;
    });
    return keys;
  }

  // --- the snapshot's Merkle tree (alureg/snapshot.py) -------------------------------
  function rootFromPath(d, path) {
    var h = sha256(concat([new Uint8Array([0]), d]));
    path.forEach(function (step) {
      // Strict form, as alureg/snapshot.py: lower-case hex and L or R, one spelling only.
      if (!/^[0-9a-f]{64}$/.test(step[0]) || (step[1] !== "L" && step[1] !== "R") || step.length !== 2) throw new Error("malformed Merkle path");
      h = h.then(function (cur) {
        var sib = unhex(step[0]);
        return sha256(concat([new Uint8Array([1]), step[1] === "L" ? sib : cur, step[1] === "L" ? cur : sib]));
      });
    });
    return h.then(hex);
  }

  function shardRoot(shards, leafId) {
    var n = Array.isArray(shards) ? shards.length : 0;
    if (n < 1 || n > 256 || (n & (n - 1)) !== 0 || !shards.every(function (r) { return typeof r === "string" && /^[0-9a-f]{64}$/.test(r); })) {
      throw new Error("malformed shard roots");
    }
    return sha256(enc.encode(leafId)).then(function (h) { return shards[h[0] >> (8 - Math.log2(n))]; });
  }

  function closureOf(bundle) {
    var records = [bundle.claim, bundle.holder].concat(bundle.certificates);
    return Promise.all(records.map(digest)).then(function (ds) {
      var rows = records.map(function (r, i) { return [r.id, hex(ds[i])]; });
      rows.sort(function (a, b) { return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0; });
      return { claim: bundle.claim.id, records: rows };
    });
  }

  // --- the steps ---------------------------------------------------------------------
  function canonicalJson(name, buf) {
    var bytes = new Uint8Array(buf), data;
    try { data = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes)); } catch (e) { data = undefined; }
    var same = data !== undefined && (function () {
      var c = enc.encode(canon(data));
      if (c.length !== bytes.length) return false;
      for (var i = 0; i < c.length; i++) if (c[i] !== bytes[i]) return false;
      return true;
    })();
    if (!same) throw new Fail("file " + name + " has been altered: it is not in its published form");
    return data;
  }

  function stamp(d) { return d.toISOString().slice(0, 19) + "Z"; }
  function seenKey(site) { return "alureg-seen-sequence:" + site; }
  function seen(site) { try { return parseInt(localStorage.getItem(seenKey(site)) || "0", 10) || 0; } catch (e) { return 0; } }
  function remember(site, seq) { try { if (seq > seen(site)) localStorage.setItem(seenKey(site), String(seq)); } catch (e) { /* private mode */ } }

  function verify(buffers, pins, now) {
    var trust, snapshot, bundle, keys, claim, holder, certs;
    return Promise.resolve().then(function () {
      // 1. Every file is in its canonical published form.
      trust = canonicalJson("trust.json", buffers[0]);
      snapshot = canonicalJson("snapshot.json", buffers[1]);
      bundle = canonicalJson("claim.json", buffers[2]);
      if (Object.keys(bundle).sort().join() !== "certificates,claim,holder,paths,type" || bundle.type !== "claim-bundle") {
        throw new Fail("the claim's records are incomplete");
      }
      // 2. The trust list is signed by the pinned root keys (their threshold).
      keys = keysOf(trust);
      return verifyRecord(trust, "trust-list", keys, pins);
    }).then(function (ok) {
      if (!ok) throw new Fail("the trust list is not signed by the scheme's root keys");
      // 3. The snapshot: publisher-signed, of this site and trust list, not older, fresh.
      return verifyRecord(snapshot, "status snapshot", keys, pins);
    }).then(function (ok) {
      if (!ok) throw new Fail("the status snapshot is not signed by a publisher key of the trust list");
      if (snapshot.site !== pins.site) throw new Fail("the status snapshot belongs to another site (" + snapshot.site + ")");
      return digest(trust);
    }).then(function (td) {
      if (snapshot.trust !== hex(td)) throw new Fail("the status snapshot does not match this trust list");
      var min = seen(pins.site);
      if (snapshot.sequence < min) throw new Fail("this status snapshot is older than one already seen (sequence " + snapshot.sequence + " < " + min + ")");
      if (stamp(now) > snapshot.expires) throw new Fail("the registry data is out of date: the status snapshot expired on " + snapshot.expires);
      // 4. Every record carries the proofs its kind requires.
      claim = bundle.claim; holder = bundle.holder; certs = bundle.certificates;
      var checks = [["claim", claim], ["member", holder]].concat(certs.map(function (c) { return ["certificate", c]; }));
      return checks.reduce(function (p, kr) {
        return p.then(function () {
          return (kr[1].type === kr[0] ? verifyRecord(kr[1], kr[0], keys, pins) : Promise.resolve(false)).then(function (ok) {
            if (!ok) throw new Fail(kr[0] + " " + kr[1].id + " is not signed as the registry requires");
          });
        });
      }, Promise.resolve());
    }).then(function () {
      var ids = certs.map(function (c) { return c.id; });
      if (claim.holder !== holder.id || claim.certificates.some(function (c) { return ids.indexOf(c) < 0; })) throw new Fail("the claim's records are incomplete");
      // 5. The claim's closure (the digest of every record its verdict rests on) is in
      //    the snapshot's Merkle tree: one path proves them all.
      //    The path leads to the root of the leaf's shard (alureg/snapshot.py, shard_of).
      var leaf = claim.id + "#closure";
      if (Object.keys(bundle.paths).join() !== leaf) throw new Fail("the claim's records are incomplete");
      return Promise.all([closureOf(bundle).then(digest).then(function (d) { return rootFromPath(d, bundle.paths[leaf]); }),
                          shardRoot(snapshot.shards, leaf)]);
    }).then(function (roots) {
      if (roots[0] !== roots[1]) throw new Fail("the records of claim " + claim.id + " are not part of this status snapshot");
      remember(pins.site, snapshot.sequence);
      // 6. Status at the viewer's day.
      var data = statusData(bundle), day = stamp(now).slice(0, 10);
      var s = window.AluregStatus.claimStatus(claim.id, data.claims[claim.id], day, data);
      return { word: s.state === "valid" ? "VALID" : "NOT-VALID", reasons: s.reasons, day: day, data: data, snapshot: snapshot };
    }).catch(function (e) {
      return { word: "CANNOT-VERIFY", reasons: [e instanceof Fail ? e.reason : "the published files are malformed"] };
    });
  }

  function statusData(bundle) {  // the shape of alureg/sitemodel.py status_data
    var h = function (entries) { return entries.map(function (e) { return [e.date, e.status, e.reason]; }); };
    var m = bundle.holder, c = bundle.claim, data = { members: {}, certificates: {}, claims: {} };
    data.members[m.id] = { joined: m.joined, h: h(m.status_history) };
    bundle.certificates.forEach(function (cert) {
      data.certificates[cert.id] = { from: cert.valid_from, until: cert.valid_until, issued: cert.issued, h: h(cert.status_history),
        succ: bundle.certificates.filter(function (s) { return s.supersedes === cert.id; }).map(function (s) { return [s.id, s.valid_from]; }) };
    });
    data.claims[c.id] = { approved: c.approved, until: c.valid_until, holder: c.holder, certs: c.certificates, h: h(c.status_history) };
    return data;
  }

  // --- the page ----------------------------------------------------------------------
  var TITLES = { "VALID": "Valid", "NOT-VALID": "Not valid", "CANNOT-VERIFY": "Cannot be verified" };
  var LEADS = {
    "VALID": "This claim is valid today. Its signatures were checked in your browser.",
    "NOT-VALID": "This claim is not valid today.",
    "CANNOT-VERIFY": "This claim cannot be verified. Do not rely on it."
  };

  function show(result) {
    var box = document.getElementById("verdict");
    box.className = "verdict verdict--" + result.word.toLowerCase();
    box.setAttribute("data-verdict", result.word);
    document.getElementById("verdict-title").textContent = TITLES[result.word];
    document.getElementById("verdict-lead").textContent = LEADS[result.word];
    var list = document.getElementById("verdict-reasons");
    list.textContent = "";
    (result.reasons || []).forEach(function (r) { var li = document.createElement("li"); li.textContent = r; list.appendChild(li); });
    var asof = document.getElementById("verdict-asof");
    if (result.word === "CANNOT-VERIFY") {
      asof.textContent = "Checked in your browser on " + stamp(new Date()).slice(0, 10) + ".";
      document.querySelectorAll("[data-status-kind]").forEach(function (el) { el.textContent = "Unverified"; el.className = "badge"; });
      return;
    }
    asof.textContent = "Status computed in your browser for today, " + result.day + " (UTC), from registry data published " +
      result.snapshot.created.slice(0, 10) + ".";
    window.AluregStatus.apply(result.data, result.day);
  }

  function run() {
    var pins = JSON.parse(document.getElementById("pins").textContent);
    var base = document.getElementById("verdict").getAttribute("data-base");
    var urls = [base + "api/v1/trust.json", base + "api/v1/snapshot.json", "claim.json"];
    Promise.all(urls.map(function (u) {
      return fetch(u, { cache: "no-cache" }).then(function (r) { if (!r.ok) throw new Fail("a file of the registry could not be loaded"); return r.arrayBuffer(); });
    })).then(function (buffers) { return verify(buffers, pins, new Date()); }, function (e) {
      return { word: "CANNOT-VERIFY", reasons: [e instanceof Fail ? e.reason : "a file of the registry could not be loaded"] };
    }).then(show);
  }

  window.AluregVerify = { verify: verify, canon: canon };
  if (document.getElementById("pins")) {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", run); else run();
  }
})();
