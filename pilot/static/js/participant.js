// Participant pages, progressive enhancement: the forms work without this script.
// 1. Ratings save in place (no page reload) and say so; 2. a screenshot that is too big or not an
// image is refused before the upload, with the same message the server would give; 3. times are
// shown in the reader's own time zone.
(function () {
  "use strict";

  document.querySelectorAll("time[data-local]").forEach(function (el) {
    var when = new Date(el.getAttribute("datetime"));
    if (!isNaN(when)) {
      el.textContent = when.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
      el.title = el.getAttribute("datetime");
    }
  });

  function setStatus(el, text, kind) {
    el.textContent = text;
    el.className = "save-status small " + (kind || "");
  }

  document.querySelectorAll("form[data-rate]").forEach(function (form) {
    var status = form.querySelector(".save-status");
    var button = form.querySelector("button[type=submit]");
    function save() {
      setStatus(status, "Saving…");
      fetch(form.action, {
        method: "POST", body: new FormData(form), credentials: "same-origin",
        headers: { "Accept": "application/json" }
      }).then(function (response) {
        return response.json().then(function (data) { return { ok: response.ok, data: data }; });
      }).then(function (result) {
        if (result.ok) {
          setStatus(status, result.data.message || "Saved.", "saved");
          button.textContent = "Update";
        } else {
          setStatus(status, result.data.error || "Not saved.", "error");
        }
      }).catch(function () {
        setStatus(status, "Not saved: check your connection and try again.", "error");
      });
    }
    form.addEventListener("submit", function (event) { event.preventDefault(); save(); });
    // A thumb is the quick answer: save it as soon as it is tapped.
    form.querySelectorAll("input[name=thumbs]").forEach(function (input) {
      input.addEventListener("change", save);
    });
  });

  document.querySelectorAll("input[type=file][data-max-bytes]").forEach(function (input) {
    var error = input.form.querySelector("[data-file-error]");
    var limit = parseInt(input.getAttribute("data-max-bytes"), 10);
    var allowed = ["image/png", "image/jpeg", "image/webp"];
    function check() {
      var file = input.files && input.files[0];
      var message = "";
      if (file && file.size > limit) {
        message = "screenshot: the file is larger than " + Math.round(limit / 1048576) + " MB; please send a smaller image (crop it, or save it as JPEG)";
      } else if (file && file.type && allowed.indexOf(file.type) < 0) {
        message = "screenshot: only PNG, JPEG or WebP images are accepted";
      }
      error.textContent = message;
      error.hidden = !message;
      return !message;
    }
    input.addEventListener("change", check);
    input.form.addEventListener("submit", function (event) { if (!check()) { event.preventDefault(); } });
  });
})();
