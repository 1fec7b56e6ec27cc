// Staff console: live updates over server-sent events (no reload), a visible alert and a beep
// for a new emergency, waiting times that tick, and canned replies. Fragments come from the
// server already escaped; event data carry only ids and labels.
(function () {
  const root = document.querySelector("[data-events]");
  if (!root) return;
  const state = document.getElementById("live-state");
  const handoffId = root.dataset.handoff || null;
  let soundOn = sessionStorage.getItem("console-sound") === "1";
  let audio = null;
  let submitting = false;
  document.addEventListener("submit", () => { submitting = true; });

  function beep() {
    if (!soundOn) return;
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      const now = audio.currentTime;
      for (let i = 0; i < 3; i++) {
        const osc = audio.createOscillator();
        const gain = audio.createGain();
        osc.frequency.value = 880;
        gain.gain.setValueAtTime(0.25, now + i * 0.35);
        gain.gain.exponentialRampToValueAtTime(0.001, now + i * 0.35 + 0.25);
        osc.connect(gain).connect(audio.destination);
        osc.start(now + i * 0.35);
        osc.stop(now + i * 0.35 + 0.3);
      }
    } catch (err) { /* no audio: the visible alert remains */ }
  }

  const toggle = document.getElementById("sound-toggle");
  function showSound() {
    if (!toggle) return;
    toggle.setAttribute("aria-pressed", soundOn ? "true" : "false");
    toggle.textContent = soundOn ? "Tắt âm thanh báo khẩn cấp" : "Bật âm thanh báo khẩn cấp";
  }
  if (toggle) {
    toggle.addEventListener("click", () => {
      soundOn = !soundOn;
      sessionStorage.setItem("console-sound", soundOn ? "1" : "0");
      showSound();
      if (soundOn) beep();
    });
    showSound();
  }

  async function refresh(target, url) {
    const el = document.getElementById(target);
    if (!el) return;
    const response = await fetch(url, { headers: { Accept: "text/html" }, credentials: "same-origin" });
    if (response.ok) {
      el.innerHTML = await response.text();
      if (target === "thread") el.scrollTop = el.scrollHeight;
      el.dispatchEvent(new CustomEvent("console:refreshed", { bubbles: true }));
      tick();
    }
  }
  function refreshQueue() { return refresh("queue", "/console/queue?tab=" + encodeURIComponent(root.dataset.tab || "waiting")); }
  function refreshThread() {
    const thread = document.getElementById("thread");
    if (thread) return refresh("thread", thread.dataset.src);
  }

  function alertEmergency(event) {
    const banner = document.getElementById("emergency-alert");
    if (banner) {
      banner.hidden = false;
      const link = document.getElementById("emergency-link");
      if (link && event.handoff_id) link.href = "/console/c/" + event.handoff_id;
    }
    document.title = "(!) " + document.title.replace(/^\(!\) /, "");
    beep();
  }

  function onEvent(kind, raw) {
    let event = {};
    try { event = JSON.parse(raw || "{}"); } catch (err) { return; }
    if (kind === "queued" && event.emergency) alertEmergency(event);
    if (document.getElementById("queue")) refreshQueue();
    if (handoffId && String(event.handoff_id) === handoffId) {
      refreshThread();
      // Someone else changed who holds it: offer a reload (never reload under a form post).
      if (["claimed", "released", "transferred", "closed"].includes(kind) && !submitting) {
        const stale = document.getElementById("stale-notice");
        if (stale) stale.hidden = false;
      }
    }
  }

  function connect() {
    const source = new EventSource(root.dataset.events);
    source.addEventListener("ready", () => {
      if (state) state.textContent = "Đang cập nhật trực tiếp";
      root.dataset.live = "1";
      // What changed between rendering the page and subscribing (e.g. a delivery state).
      if (document.getElementById("queue")) refreshQueue();
      refreshThread();
    });
    for (const kind of ["queued", "message", "claimed", "released", "transferred", "reply", "closed", "delivery"]) {
      source.addEventListener(kind, (e) => onEvent(kind, e.data));
    }
    source.onerror = () => {
      if (state) state.textContent = "Mất kết nối, đang thử lại…";
      root.dataset.live = "0";
    };
  }

  function tick() {
    const now = Date.now();
    for (const el of document.querySelectorAll(".since[data-since]")) {
      const minutes = Math.max(0, Math.floor((now - Date.parse(el.dataset.since)) / 60000));
      el.textContent = minutes < 60 ? minutes + " phút" : Math.floor(minutes / 60) + " giờ " + (minutes % 60) + " phút";
    }
  }

  const canned = document.getElementById("canned");
  if (canned) {
    canned.addEventListener("change", () => {
      const text = document.getElementById("reply-text");
      if (canned.value && text) { text.value = canned.value; text.focus(); }
      canned.value = "";
    });
  }

  const thread = document.getElementById("thread");
  if (thread) thread.scrollTop = thread.scrollHeight;
  tick();
  setInterval(tick, 30000);
  connect();
})();
