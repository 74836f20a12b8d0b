/* Review queue: deciding in place, and keyboard shortcuts (no dependencies).
 * Queue:  j/k move, Enter/o open, x select, c confirm (suggested category), d dismiss, e escalate.
 *         A row's Confirm / Dismiss / Escalate are plain form POSTs; with this script they are sent
 *         with fetch (the form's CSRF token, also as X-CSRFToken) and the row is updated in place,
 *         so the queue keeps its place. "All matching this filter" asks for confirmation first.
 * Detail: j/k next/previous flag, c confirm, d dismiss, e escalate, u back to the queue.
 * Keys are ignored while typing in a field. */
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

  function announce(text, isError) {
    var box = document.getElementById("queue-status");
    if (!box) return;
    box.textContent = text;
    box.className = "sr-status flash " + (isError ? "flash-error" : "flash-success");
  }

  function markDecided(row, answer) {
    var cell = row.lastElementChild;
    var status = cell.querySelector(".badge");
    if (status) { status.textContent = answer.status; status.className = "badge " + answer.status; }
    if (answer.escalated && !cell.querySelector(".badge.escalated")) {
      var esc = document.createElement("span");
      esc.className = "badge escalated";
      esc.textContent = "escalated";
      status.insertAdjacentElement("afterend", esc);
    }
    var actions = cell.querySelector(".row-actions");
    if (actions) actions.remove();
    row.classList.add("decided");
  }

  function decideInPlace(form, submitter) {
    var data = new FormData(form);
    if (submitter && submitter.name) data.set(submitter.name, submitter.value);
    var row = document.querySelector('tr[data-decide="' + form.getAttribute("action") + '"]');
    fetch(form.getAttribute("action"), {
      method: "POST", body: data, credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": csrfToken() }
    }).then(function (response) {
      return response.json().catch(function () { return { error: "The server answered " + response.status + "." }; })
        .then(function (answer) { return { ok: response.ok, answer: answer }; });
    }).then(function (result) {
      if (!result.ok) { announce(result.answer.error || "Not saved.", true); return; }
      if (row) markDecided(row, result.answer);
      announce(result.answer.message, false);
    }).catch(function () { announce("Not saved: the server could not be reached. Try again.", true); });
  }

  function setupQueue(table) {
    var rows = Array.prototype.slice.call(table.querySelectorAll("tbody tr[data-url]"));
    var current = -1;

    document.querySelectorAll("form.decide-form").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        decideInPlace(form, event.submitter);
      });
    });

    function decideRow(row, action) {
      var button = row.querySelector('.row-actions button[value="' + action + '"]');
      if (!button) return;
      var form = document.getElementById(button.getAttribute("form"));
      if (form.requestSubmit) form.requestSubmit(button); else decideInPlace(form, button);
    }

    var bulkForm = document.getElementById("bulk-form");
    var matching = document.getElementById("all-matching");
    if (bulkForm && matching) {
      bulkForm.addEventListener("submit", function (event) {
        if (!matching.checked) return;
        var action = bulkForm.querySelector('select[name="action"]');
        var label = action.options[action.selectedIndex].text;
        if (!window.confirm(label + ": all " + matching.dataset.count + " flags matching this filter, on every page?")) {
          event.preventDefault();
        }
      });
    }

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
        case "c": if (row) decideRow(row, "confirm"); else return; break;
        case "d": if (row) decideRow(row, "dismiss"); else return; break;
        case "e": if (row) decideRow(row, "escalate"); else return; break;
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
