/* The claim's QR code, drawn in the holder's browser when they open the QR section of
 * a claim page (docs/adr/0012-scale.md: 100,000 codes drawn at build time took minutes
 * and hundreds of MB of output; only holders need them, once).
 *
 * The code encodes the URL the build wrote into the page (data-url), never
 * location.href: a copy of the page on another host must not hand out codes that
 * point to that host. Same settings as `python build.py qr` (alureg/qr.py): error
 * correction Q, a quiet zone of 4 modules, 10 px per module in the PNG.
 * The encoder (vendored uqr, MIT) is loaded only when the section is opened, so a
 * consumer's first visit does not grow.
 */
(function () {
  "use strict";
  var BORDER = 4;
  var PNG_SCALE = 10;
  var MIN_MODULE_MM = 0.4;

  function svgText(data, url) {
    var side = data.length;
    var d = [];
    for (var y = 0; y < side; y++) {
      var x = 0;
      while (x < side) {
        if (!data[y][x]) { x++; continue; }
        var start = x;
        while (x < side && data[y][x]) x++;
        d.push("M" + start + " " + y + "h" + (x - start) + "v1h-" + (x - start) + "z");
      }
    }
    var title = url.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
    return '<svg xmlns="http://www.w3.org/2000/svg" width="' + side + 'mm" height="' + side +
      'mm" viewBox="0 0 ' + side + " " + side + '"><title>' + title + "</title>" +
      '<rect width="' + side + '" height="' + side + '" fill="#fff"/>' +
      '<path fill="#000" d="' + d.join("") + '"/></svg>\n';
  }

  function pngBlob(data) {
    var side = data.length;
    var canvas = document.createElement("canvas");
    canvas.width = canvas.height = side * PNG_SCALE;
    var g = canvas.getContext("2d");
    g.fillStyle = "#fff";
    g.fillRect(0, 0, canvas.width, canvas.height);
    g.fillStyle = "#000";
    for (var y = 0; y < side; y++) {
      for (var x = 0; x < side; x++) {
        if (data[y][x]) g.fillRect(x * PNG_SCALE, y * PNG_SCALE, PNG_SCALE, PNG_SCALE);
      }
    }
    return new Promise(function (resolve, reject) {
      canvas.toBlob(function (blob) { return blob ? resolve(blob) : reject(new Error("no PNG")); }, "image/png");
    });
  }

  function draw(section) {
    var url = section.getAttribute("data-url");
    var status = section.querySelector("[data-qr=status]");
    var base = document.getElementById("verdict").getAttribute("data-base");
    return import(base + "assets/vendor/uqr.js").then(function (uqr) {
      var qr = uqr.encode(url, { ecc: "Q", border: BORDER });
      var modules = qr.size - 2 * BORDER;
      var svg = new Blob([svgText(qr.data, url)], { type: "image/svg+xml" });
      return pngBlob(qr.data).then(function (png) {
        var svgLink = section.querySelector("[data-qr=svg]");
        var pngLink = section.querySelector("[data-qr=png]");
        svgLink.href = URL.createObjectURL(svg);
        pngLink.href = URL.createObjectURL(png);
        var image = section.querySelector("[data-qr=image]");
        image.src = pngLink.href;
        image.hidden = false;
        section.querySelector("[data-qr=version]").textContent = String(qr.version);
        section.querySelector("[data-qr=modules]").textContent = modules + " × " + modules;
        section.querySelector("[data-qr=with-quiet-zone]").textContent = String(qr.size);
        section.querySelector("[data-qr=print]").textContent = (qr.size * MIN_MODULE_MM).toFixed(1);
        section.querySelector("[data-qr=files]").hidden = false;
        status.textContent = "";
        section.setAttribute("data-qr-state", "drawn");
      });
    }).catch(function (err) {
      status.textContent = "The code could not be drawn in this browser (" + err.message +
        "). Run python build.py qr " + section.getAttribute("data-claim") + " instead.";
      section.setAttribute("data-qr-state", "failed");
    });
  }

  function init() {
    var section = document.getElementById("qr");
    if (!section) return;
    var started = false;
    function start() {
      if (started || !section.open) return;
      started = true;
      draw(section);
    }
    section.addEventListener("toggle", start);
    start();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
