// shardmover dashboard: plain JavaScript, no build step, no dependencies.
// 1. Forms (or their submit buttons) with data-confirm ask before they submit.
// 2. An element with data-live="<url>" is refreshed from that URL every
//    second (an HTML fragment) until the fragment carries data-final.
"use strict";

window.shardmoverDashboard = { loadedAt: Date.now(), refreshes: 0 };

document.addEventListener("submit", function (event) {
  var button = event.submitter;
  var question =
    (button && button.getAttribute("data-confirm")) ||
    event.target.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

function followLive(region) {
  var url = region.getAttribute("data-live");
  function tick() {
    if (region.querySelector("[data-final]")) {
      return;
    }
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        // Replace only what changed, so focus and screen readers are left alone.
        if (html !== region.innerHTML) {
          region.innerHTML = html;
        }
        window.shardmoverDashboard.refreshes += 1;
        region.removeAttribute("data-stale");
        setTimeout(tick, 1000);
      })
      .catch(function () {
        region.setAttribute("data-stale", "true");
        setTimeout(tick, 3000);
      });
  }
  setTimeout(tick, 1000);
}

document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-live]").forEach(followLive);
});
