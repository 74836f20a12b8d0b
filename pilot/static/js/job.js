// Follows a background job's progress (templates/worker/job.html) until it is done or failed.
(function () {
  const panel = document.getElementById("job");
  if (!panel) return;
  const url = panel.dataset.stateUrl;
  function show(state) {
    const badge = document.getElementById("job-status");
    badge.textContent = state.status;
    badge.className = "badge " + ({ done: "pass", failed: "fail" }[state.status] || "warn");
    document.getElementById("job-progress").value = state.progress;
    document.getElementById("job-percent").textContent = state.progress + "%";
    document.getElementById("job-message").textContent = state.message;
    if (state.download_url) {
      document.getElementById("job-download-link").href = state.download_url;
      document.getElementById("job-download").hidden = false;
    }
    return state.status === "queued" || state.status === "running";
  }
  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((response) => response.json())
      .then((state) => { if (show(state)) setTimeout(poll, 1000); })
      .catch(() => setTimeout(poll, 3000));
  }
  const status = document.getElementById("job-status").textContent;
  if (status === "queued" || status === "running") setTimeout(poll, 500);
})();
