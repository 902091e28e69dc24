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

  // Copy buttons: the clipboard when the browser allows it, else select the text for Ctrl+C. Those
  // marked "copy" show at once (without this script they would do nothing); the secret's waits.
  document.querySelectorAll("button.copy[data-copy]").forEach(function (button) { button.hidden = false; });
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var label = button.textContent;
    button.addEventListener("click", function () {
      var source = document.getElementById(button.dataset.copy);
      var text = source.textContent;
      var done = function () {
        button.textContent = "Copied";
        window.setTimeout(function () { button.textContent = label; }, 2000);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () { selectText(source); });
      } else {
        selectText(source);
        button.textContent = "Press Ctrl+C to copy";
      }
    });
  });
  // Live status: while a delivery shown is pending, ask the server how it stands every few seconds
  // (less often while nothing changes) and swap in what changed: rows of the log and the endpoint's
  // figures, or the whole page of a delivery. Without this script a reload shows the same.
  var live = document.querySelector("[data-live-url]");
  var FIRST_DELAY = 2000, MAX_DELAY = 20000;
  var delay = FIRST_DELAY;
  function pendingIds() {
    return Array.prototype.map.call(
      live.querySelectorAll('[data-delivery][data-status="pending"]'),
      function (item) { return item.dataset.delivery; }
    );
  }
  function schedule() {
    if (pendingIds().length) { window.setTimeout(poll, delay); }
  }
  function poll() {
    if (document.hidden) {  // a background tab asks again once it is looked at
      document.addEventListener("visibilitychange", poll, { once: true });
      return;
    }
    var url = live.dataset.liveUrl + "?ids=" + pendingIds().join(",");
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) { throw new Error(response.status); }
        return response.json();
      })
      .then(function (answer) {
        var changed = answer.deliveries.filter(update);
        if (changed.length && live.hasAttribute("data-live-reload")) {
          window.location.reload();
          return;
        }
        Object.keys(answer.endpoint.html).forEach(function (name) {
          var figure = document.querySelector('[data-live-figure="' + name + '"]');
          if (figure) { figure.innerHTML = answer.endpoint.html[name]; }
        });
        announce(changed);
        delay = changed.length ? FIRST_DELAY : Math.min(delay * 1.5, MAX_DELAY);
        schedule();
      })
      .catch(function () {
        delay = Math.min(delay * 2, MAX_DELAY);
        schedule();
      });
  }
  function update(delivery) {
    var item = live.querySelector('[data-delivery="' + delivery.id + '"]');
    if (!item || (item.dataset.status === delivery.status &&
                  item.dataset.attempts === String(delivery.attempt_count))) { return false; }
    if (live.hasAttribute("data-live-reload")) { return true; }
    var template = document.createElement("template");
    template.innerHTML = delivery.html.trim();
    var row = template.content.querySelector("[data-delivery]");
    var wasOpen = item.querySelector("details");
    if (wasOpen && wasOpen.open) { row.querySelector("details").open = true; }
    item.replaceWith(row);
    return true;
  }
  function announce(changed) {
    var region = document.querySelector("[data-live-announce]");
    if (region && changed.length) {
      region.textContent = changed.map(function (d) { return "Delivery " + d.id + ": " + d.status; }).join(". ");
    }
  }
  if (live) { schedule(); }

  function selectText(node) {
    var range = document.createRange();
    range.selectNodeContents(node);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }
})();
