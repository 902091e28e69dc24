/* A little progressive enhancement; every page works without it. */
(function () {
  "use strict";

  // Select all per category: a box that checks every enabled type of its fieldset.
  function syncSelectAll(box) {
    var items = box.closest("[data-category]").querySelectorAll('input[name="events"]:not(:disabled)');
    var checked = Array.prototype.filter.call(items, function (item) { return item.checked; }).length;
    box.checked = items.length > 0 && checked === items.length;
    box.indeterminate = checked > 0 && checked < items.length;
  }
  document.querySelectorAll("[data-select-all]").forEach(function (box) {
    var group = box.closest("[data-category]");
    box.closest("label").hidden = false;
    syncSelectAll(box);
    box.addEventListener("change", function () {
      group.querySelectorAll('input[name="events"]:not(:disabled)').forEach(function (item) {
        item.checked = box.checked;
      });
      syncSelectAll(box);
    });
    group.addEventListener("change", function (event) {
      if (event.target.name === "events") { syncSelectAll(box); }
    });
  });

  // Click to reveal: fetch the secret only when asked (the link alone opens a page showing it).
  document.querySelectorAll("[data-reveal]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      var target = document.getElementById(link.dataset.reveal);
      event.preventDefault();
      fetch(link.href, { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin", cache: "no-store" })
        .then(function (response) {
          if (!response.ok) { throw new Error(response.status); }
          return response.text();
        })
        .then(function (secret) {
          target.textContent = secret;
          target.hidden = false;
          link.hidden = true;
          var copy = document.querySelector('[data-copy="' + target.id + '"]');
          if (copy) { copy.hidden = false; }
        })
        .catch(function () { window.location.href = link.href; });
    });
  });

  // Copy buttons: the clipboard when the browser allows it, else select the text for Ctrl+C.
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var source = document.getElementById(button.dataset.copy);
      var text = source.textContent;
      var done = function () { button.textContent = "Copied"; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () { selectText(source); });
      } else {
        selectText(source);
        button.textContent = "Press Ctrl+C to copy";
      }
    });
  });
  function selectText(node) {
    var range = document.createRange();
    range.selectNodeContents(node);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }
})();
