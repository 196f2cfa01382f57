/* "Verify a label": type a claim code, or scan its QR code with the camera where the
 * browser offers BarcodeDetector. Only this registry's own claim URLs are followed. */
(function () {
  "use strict";
  var form = document.getElementById("verify-form");
  if (!form) return;
  var input = document.getElementById("claim-code"), message = document.getElementById("verify-message");
  var claimsBase = new URL("../c/", location.href);
  form.noValidate = true;  // our message is clearer than the browser's pattern warning

  function normalise(text) {
    var m = /^\s*CLM-?(\d{5,8})\s*$/i.exec(text);
    return m ? "CLM-" + m[1] : null;
  }
  function go(code) { location.href = new URL(code + "/", claimsBase).href; }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var code = normalise(input.value);
    if (!code) { message.textContent = "That is not a claim code: it looks like CLM-10001."; input.focus(); return; }
    go(code);
  });

  if (!("BarcodeDetector" in window) || !navigator.mediaDevices) return;
  var button = document.getElementById("scan"), video = document.getElementById("scan-video");
  button.hidden = false;
  button.addEventListener("click", function () {
    var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (stream) {
      video.srcObject = stream; video.hidden = false; video.play();
      message.textContent = "Point the camera at the QR code.";
      var timer = setInterval(function () {
        detector.detect(video).then(function (codes) {
          if (!codes.length) return;
          var url;
          try { url = new URL(codes[0].rawValue); } catch (e) { url = null; }
          clearInterval(timer);
          stream.getTracks().forEach(function (t) { t.stop(); });
          video.hidden = true;
          if (url && url.origin === claimsBase.origin && url.pathname.indexOf(claimsBase.pathname) === 0) location.href = url.href;
          else message.textContent = "This QR code does not open a claim of this registry: " + (url ? url.host : "not a web address") + ".";
        });
      }, 300);
    }, function () { message.textContent = "The camera could not be opened. Type the claim code instead."; });
  });
})();
