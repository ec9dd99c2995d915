// The web chat page of baoxiu: renders the conversation kept in the server's web inbox,
// sends what the resident types, taps, shares or uploads, and long-polls for new messages.
// No framework, no CDN. Text from people is only ever put into the page with textContent.
"use strict";

(function () {
  const cfg = JSON.parse(document.getElementById("texts").textContent);
  const t = cfg.texts;
  const api = cfg.api;
  const log = document.getElementById("log");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");
  const sendBtn = document.getElementById("send");
  const photoInput = document.getElementById("photo");
  const status = document.getElementById("status");
  const langBtn = document.getElementById("lang");

  let lastSeq = 0;
  let keyboard = null; // the controls of the latest reply keyboard, removed when replaced
  let statusTimer = null;
  const seen = new Set();

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null && text !== "") node.textContent = text;
    return node;
  }

  function showStatus(text, sticky) {
    status.textContent = text;
    status.hidden = !text;
    if (statusTimer) clearTimeout(statusTimer);
    statusTimer = null;
    if (text && !sticky) statusTimer = setTimeout(() => showStatus(""), 6000);
  }

  function mediaUrl(ref) {
    return api + "/media/" + ref.split("/").map(encodeURIComponent).join("/");
  }

  function clock(iso) {
    const when = new Date(iso);
    if (isNaN(when.getTime())) return "";
    return when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function dropKeyboard() {
    if (keyboard) keyboard.remove();
    keyboard = null;
  }

  function choiceButtons(choices, cls) {
    const box = el("div", cls);
    for (const choice of choices) {
      const button = el("button", "choice", choice.label);
      button.type = "button";
      button.addEventListener("click", () => send({ button: choice.data }));
      box.appendChild(button);
    }
    return box;
  }

  function phoneForm(label) {
    const box = el("form", "kb phone");
    const field = el("input");
    field.type = "tel";
    field.inputMode = "tel";
    field.autocomplete = "tel";
    field.maxLength = 32;
    field.placeholder = t.phone_placeholder;
    const button = el("button", "choice primary", label || t.phone_send);
    button.type = "submit";
    box.append(field, button);
    box.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const phone = field.value.trim();
      if (phone) send({ text: phone });
    });
    setTimeout(() => field.focus(), 0);
    return box;
  }

  function locationButton(label) {
    const box = el("div", "kb");
    const button = el("button", "choice primary with-icon");
    const pin = el("img");
    pin.src = cfg.pin_icon;
    pin.alt = "";
    button.append(pin, document.createTextNode(label || t.share_location));
    button.type = "button";
    button.addEventListener("click", shareLocation);
    box.appendChild(button);
    return box;
  }

  function shareLocation() {
    if (!navigator.geolocation) {
      showStatus(t.location_unavailable);
      return;
    }
    showStatus(t.locating, true);
    navigator.geolocation.getCurrentPosition(
      (pos) => {
        showStatus("");
        send({ location: { lat: pos.coords.latitude, lon: pos.coords.longitude } });
      },
      () => showStatus(t.location_unavailable),
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 },
    );
  }

  function render(msg) {
    if (seen.has(msg.seq)) return;
    seen.add(msg.seq);
    lastSeq = Math.max(lastSeq, msg.seq);
    const mine = msg.kind === "user";
    const row = el("div", "row " + (mine ? "mine" : "theirs"));
    row.dataset.seq = String(msg.seq);
    const bubble = el("div", "bubble" + (msg.kind === "notice" ? " notice" : ""));
    if (msg.text) bubble.appendChild(el("div", "text", msg.text));
    for (const ref of msg.photos || []) {
      const link = el("a", "photo");
      link.href = mediaUrl(ref);
      link.target = "_blank";
      link.rel = "noopener";
      const img = el("img");
      img.src = mediaUrl(ref);
      img.alt = t.photo_alt;
      img.loading = "lazy";
      link.appendChild(img);
      bubble.appendChild(link);
    }
    const meta = el("div", "meta", (mine ? t.you : t.desk) + " · " + clock(msg.at));
    bubble.appendChild(meta);
    row.appendChild(bubble);

    if (!mine) {
      let kb = null;
      if (msg.choices && msg.choices.length) {
        if (msg.inline) bubble.appendChild(choiceButtons(msg.choices, "choices inline"));
        else kb = choiceButtons(msg.choices, "choices kb");
      }
      if (msg.request_contact) kb = phoneForm(msg.request_contact);
      if (msg.request_location) kb = locationButton(msg.request_location);
      if (kb || msg.remove_keyboard) dropKeyboard();
      if (kb) {
        row.appendChild(kb);
        keyboard = kb;
      }
    }
    log.appendChild(row);
  }

  function scrollDown() {
    log.scrollTop = log.scrollHeight;
    window.scrollTo(0, document.body.scrollHeight);
  }

  async function errorText(resp) {
    try {
      const body = await resp.json();
      if (body && body.error) return body.error;
    } catch (e) {
      // not JSON: fall through to the generic text
    }
    return t.error_server;
  }

  async function send(payload) {
    sendBtn.disabled = true;
    try {
      const resp = await fetch(api + "/send", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        credentials: "same-origin",
        body: JSON.stringify(payload),
      });
      if (!resp.ok) {
        showStatus(await errorText(resp));
        return false;
      }
      showStatus("");
      return true;
    } catch (e) {
      showStatus(t.offline);
      return false;
    } finally {
      sendBtn.disabled = false;
    }
  }

  async function upload(file) {
    if (file.size > cfg.max_upload_bytes) {
      showStatus(t.too_large);
      return;
    }
    const data = new FormData();
    data.append("photo", file, file.name || "photo");
    const caption = input.value.trim();
    if (caption) data.append("caption", caption);
    showStatus(t.uploading, true);
    try {
      const resp = await fetch(api + "/photo", {
        method: "POST",
        body: data,
        credentials: "same-origin",
      });
      if (!resp.ok) {
        showStatus(await errorText(resp));
        return;
      }
      input.value = "";
      showStatus("");
    } catch (e) {
      showStatus(t.offline);
    }
  }

  async function poll(wait) {
    const resp = await fetch(api + "/messages?after=" + lastSeq + "&wait=" + wait, {
      credentials: "same-origin",
      cache: "no-store",
    });
    if (!resp.ok) throw new Error(await errorText(resp));
    const body = await resp.json();
    for (const msg of body.messages) render(msg);
    if (body.messages.length) scrollDown();
    return body.more;
  }

  async function pollForever() {
    let delay = 1000;
    let wait = 0; // the first call returns the history at once
    for (;;) {
      try {
        const more = await poll(wait);
        wait = more ? 0 : cfg.poll_seconds;
        delay = 1000;
        if (status.textContent === t.offline) showStatus("");
      } catch (e) {
        showStatus(t.offline, true);
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(delay * 2, 30000);
      }
    }
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    if (await send({ text: text })) input.value = "";
    fitInput();
    countInput();
    input.focus();
  });

  function fitInput() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight + 2, 120) + "px";
  }

  // Near the limit the resident sees how much is left; at it, that the rest will not go
  // (the textarea stops taking characters, which otherwise looked like text was lost).
  const count = document.getElementById("count");
  function countInput() {
    const used = input.value.length;
    const max = cfg.max_text;
    count.hidden = used < max * 0.8;
    count.classList.toggle("full", used >= max);
    count.textContent = used >= max ? t.text_limit : used + " / " + max;
  }

  input.addEventListener("input", fitInput);
  input.addEventListener("input", countInput);

  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      form.requestSubmit();
    }
  });

  photoInput.addEventListener("change", async () => {
    const file = photoInput.files && photoInput.files[0];
    photoInput.value = "";
    if (file) await upload(file);
  });

  langBtn.addEventListener("click", async () => {
    if (await send({ button: "c:lang:" + langBtn.dataset.locale })) window.location.reload();
  });

  async function begin() {
    if (cfg.start) {
      // A deep link (a QR code on a building notice): start a report with the place known,
      // once; the address bar loses the query so a reload does not start it again.
      history.replaceState(null, "", window.location.pathname);
      await send({ start: cfg.start });
    }
    pollForever();
  }

  begin();
})();
