// rtk-sessions dashboard: a little progressive enhancement, nothing the pages need to work.
// - the sessions table refreshes its rows every RTK_UI_REFRESH_SECONDS while it shows live
//   sessions (or the newest ones);
// - a summary being generated is re-checked every 2 s until it is there.
"use strict";

function refreshRows() {
  const table = document.querySelector("table[data-live-refresh='on']");
  if (!table) return;
  const stamp = document.querySelector("[data-refreshed]");
  setInterval(async () => {
    if (document.hidden) return;
    try {
      const response = await fetch(location.href, { headers: { "X-Rtk-Fragment": "rows" }, credentials: "same-origin" });
      if (!response.ok) return;
      document.getElementById("session-rows").innerHTML = await response.text();
      if (stamp) stamp.textContent = "· updated " + new Date().toLocaleTimeString();
    } catch (_) { /* offline for a moment: try again next time */ }
  }, 1000 * Number(table.dataset.refreshSeconds || 15));
}

function watchSummary() {
  const body = document.getElementById("summary-body");
  if (!body || !body.querySelector("[data-summary-pending]")) return;
  const timer = setInterval(async () => {
    try {
      const response = await fetch(location.pathname, { headers: { "X-Rtk-Fragment": "summary" }, credentials: "same-origin" });
      if (!response.ok) return;
      body.innerHTML = await response.text();
      if (!body.querySelector("[data-summary-pending]")) clearInterval(timer);
    } catch (_) { /* try again */ }
  }, 2000);
}

document.addEventListener("DOMContentLoaded", () => { refreshRows(); watchSummary(); });
