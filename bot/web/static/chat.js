// Web chat: sends what the resident types (or the payload of a clicked button) to the web app
// and shows the bot's replies. Text is always inserted with textContent, never as HTML.
(function () {
  const log = document.getElementById("log");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");
  let busy = false;

  function add(who, text, buttons) {
    const item = document.createElement("li");
    item.className = who;
    if (who === "person") {
      const label = document.createElement("div");
      label.className = "from";
      label.textContent = "Nhân viên tổng đài";
      item.appendChild(label);
    }
    const bubble = document.createElement("div");
    bubble.className = "bubble";
    bubble.textContent = text;
    item.appendChild(bubble);
    if (buttons && buttons.length) {
      const row = document.createElement("div");
      row.className = "buttons";
      for (const b of buttons) {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = b.title;
        button.addEventListener("click", () => send(b.payload, b.title));
        row.appendChild(button);
      }
      item.appendChild(row);
    }
    log.appendChild(item);
    item.scrollIntoView({ block: "end" });
  }

  async function send(text, shown) {
    if (busy) return;
    busy = true;
    if (shown !== null) add("me", shown || text);
    const messageId = (crypto.randomUUID ? crypto.randomUUID() : String(Date.now() + Math.random())).replace(/[^A-Za-z0-9-]/g, "");
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const response = await fetch("/api/chat/messages", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ text: text, message_id: messageId }),
        });
        if (!response.ok) throw new Error(String(response.status));
        const data = await response.json();
        for (const r of data.replies) add("bot", r.text, r.buttons);
        busy = false;
        return;
      } catch (err) {
        await new Promise((resolve) => setTimeout(resolve, 800 * (attempt + 1)));
      }
    }
    add("error", "Không gửi được tin nhắn. Bạn kiểm tra kết nối mạng rồi thử lại nhé.");
    busy = false;
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value;
    input.value = "";
    send(text);
  });

  // Messages from hotline staff (and the bot's notice when they hand back) arrive live.
  function listen() {
    if (!window.EventSource) return;
    const source = new EventSource("/api/chat/events");
    source.addEventListener("ready", () => { log.dataset.live = "1"; });
    source.addEventListener("message", (e) => {
      let event = {};
      try { event = JSON.parse(e.data); } catch (err) { return; }
      if (event.text) add(event.from_person ? "person" : "bot", event.text, event.buttons);
    });
  }
  listen();

  if (!sessionStorage.getItem("hotline-greeted")) {
    sessionStorage.setItem("hotline-greeted", "1");
    send("/greet", null);
  }
})();
