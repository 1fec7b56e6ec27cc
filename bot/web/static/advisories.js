// Live progress of an advisory: polls its report every 2 s while it is going out.
(function () {
  var box = document.getElementById("progress");
  if (!box) return;
  var url = box.getAttribute("data-url");
  function show(data) {
    ["queued", "sent", "pending", "failed"].forEach(function (k) {
      document.getElementById("p-" + k).textContent = data[k];
    });
    var parts = Object.keys(data.skipped).map(function (k) { return k + " " + data.skipped[k]; });
    document.getElementById("p-skipped").textContent = parts.length ? parts.join(", ") : "0";
    var status = document.getElementById("status");
    status.textContent = data.label;
    status.setAttribute("data-status", data.status);
  }
  function poll() {
    fetch(url, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) return;
        show(data);
        if (data.status === "sending" || data.pending > 0) setTimeout(poll, 2000);
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  poll();
})();
