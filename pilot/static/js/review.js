/* Review queue keyboard shortcuts (no dependencies).
 * Queue:  j/k move, Enter/o open, x select, c confirm (suggested category), d dismiss, e escalate.
 * Detail: j/k next/previous flag, c confirm, d dismiss, e escalate, u back to the queue.
 * Keys are ignored while typing in a field. Actions are ordinary POSTs with the page's CSRF token. */
(function () {
  "use strict";

  function typing(event) {
    var el = event.target;
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function post(url, fields) {
    var form = document.createElement("form");
    form.method = "post";
    form.action = url;
    fields.csrf_token = csrfToken();
    Object.keys(fields).forEach(function (name) {
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      input.value = fields[name];
      form.appendChild(input);
    });
    document.body.appendChild(form);
    form.submit();
  }

  function setupQueue(table) {
    var rows = Array.prototype.slice.call(table.querySelectorAll("tbody tr[data-url]"));
    var current = -1;
    var here = window.location.pathname + window.location.search;

    function select(index) {
      if (!rows.length) return;
      index = Math.max(0, Math.min(rows.length - 1, index));
      if (current >= 0) rows[current].classList.remove("current");
      current = index;
      rows[current].classList.add("current");
      rows[current].scrollIntoView({ block: "nearest" });
    }

    rows.forEach(function (row, index) {
      row.addEventListener("click", function (event) {
        if (event.target.closest("a, input, button, label")) return;
        select(index);
      });
    });

    var all = document.getElementById("select-all");
    if (all) {
      all.addEventListener("change", function () {
        rows.forEach(function (row) { row.querySelector('input[name="flag_ids"]').checked = all.checked; });
      });
    }

    document.addEventListener("keydown", function (event) {
      if (typing(event) || event.ctrlKey || event.metaKey || event.altKey) return;
      var row = current >= 0 ? rows[current] : null;
      switch (event.key) {
        case "j": select(current + 1); break;
        case "k": select(current - 1); break;
        case "Enter": case "o": if (row) window.location.href = row.dataset.url; else return; break;
        case "x": if (row) { var box = row.querySelector('input[name="flag_ids"]'); box.checked = !box.checked; } else return; break;
        case "c": if (row) post(row.dataset.decide, { action: "confirm", category: row.dataset.category, severity: row.dataset.severity, next: here }); else return; break;
        case "d": if (row) post(row.dataset.decide, { action: "dismiss", next: here }); else return; break;
        case "e": if (row) post(row.dataset.decide, { action: "escalate", next: here }); else return; break;
        default: return;
      }
      event.preventDefault();
    });
  }

  function setupDetail() {
    var note = document.getElementById("note");
    // Dismiss and escalate carry the note typed in the confirm form.
    document.querySelectorAll("form .copy-note").forEach(function (hidden) {
      hidden.form.addEventListener("submit", function () { if (note) hidden.value = note.value; });
    });
    function submit(id) {
      var form = document.getElementById(id);
      if (!form) return false;
      if (form.requestSubmit) form.requestSubmit(); else form.submit();
      return true;
    }
    function follow(selector) {
      var link = document.querySelector(selector);
      if (!link) return false;
      window.location.href = link.href;
      return true;
    }
    document.addEventListener("keydown", function (event) {
      if (typing(event) || event.ctrlKey || event.metaKey || event.altKey) return;
      var handled = false;
      switch (event.key) {
        case "j": handled = follow('a[rel="next"]'); break;
        case "k": handled = follow('a[rel="prev"]'); break;
        case "c": handled = submit("confirm-form"); break;
        case "d": handled = submit("dismiss-form"); break;
        case "e": handled = submit("escalate-form"); break;
        case "u": handled = follow('.flag-head a[href*="/review"]:not([rel])'); break;
      }
      if (handled) event.preventDefault();
    });
  }

  var table = document.getElementById("queue");
  if (table) setupQueue(table);
  else if (document.getElementById("decide")) setupDetail();
})();
