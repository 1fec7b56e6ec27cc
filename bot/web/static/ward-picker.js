// Typeahead for the ward picker on /admin/teams/<id>: results as you type, from the same
// server-side search the plain form uses (the page works without this script).
(function () {
  "use strict";
  const form = document.getElementById("ward-picker");
  const input = document.getElementById("ward-query");
  const list = document.getElementById("ward-results");
  const template = document.getElementById("ward-add-form");
  if (!form || !input || !list || !template) return;
  const teamId = Number(form.dataset.teamId);
  let timer = null;
  let latest = 0;

  function row(result) {
    const item = document.createElement("li");
    const label = document.createElement("span");
    label.textContent = result.name + ", " + result.province + " ";
    const code = document.createElement("span");
    code.className = "muted small";
    code.textContent = result.code;
    label.appendChild(code);
    item.appendChild(label);
    if (result.team) {
      const owner = document.createElement("span");
      owner.className = "muted small";
      owner.textContent = result.team.id === teamId ? "Đã thuộc tổ này" : "Thuộc tổ " + result.team.name;
      item.appendChild(owner);
    } else {
      const add = template.content.firstElementChild.cloneNode(true);
      add.action = form.dataset.addUrl;
      add.querySelector('input[name="ward_code"]').value = result.code;
      item.appendChild(add);
    }
    return item;
  }

  async function search() {
    const query = input.value.trim();
    const mine = ++latest;
    if (query.length < 2) {
      list.hidden = true;
      list.replaceChildren();
      return;
    }
    const response = await fetch(form.dataset.searchUrl + "?q=" + encodeURIComponent(query), {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    if (!response.ok || mine !== latest) return;
    const data = await response.json();
    list.replaceChildren(...data.results.map(row));
    if (!data.results.length) {
      const none = document.createElement("li");
      none.className = "muted";
      none.textContent = "Không tìm thấy phường/xã nào.";
      list.appendChild(none);
    }
    list.hidden = false;
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(search, 200);
  });
})();
