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
  const newer = document.getElementById("newer");
  const viewer = document.getElementById("viewer");
  const viewerImg = document.getElementById("viewer-img");
  const pageLang = document.documentElement.lang || undefined;

  // Photos are made smaller in the browser before they are sent (a phone's camera gives
  // 4000 px and 5-12 MB): long side and JPEG quality as the issue asked; the server keeps
  // its own cap. Files already small and not too wide go as they are.
  const LONG_SIDE = 2048;
  const QUALITIES = [0.85, 0.7, 0.55];
  const SMALL_ENOUGH = 1024 * 1024;

  let lastSeq = 0;
  let keyboard = null; // the controls of the latest reply keyboard, removed when replaced
  let statusTimer = null;
  const seen = new Set();
  // Whether the person is at the bottom of the conversation: new messages and images that
  // finish loading later keep them there; scrolled up, they get the "new messages" pill.
  let following = true;

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
    const now = new Date();
    const time = when.toLocaleTimeString(pageLang, { hour: "2-digit", minute: "2-digit" });
    if (when.toDateString() === now.toDateString()) return time;
    // Not from today: the date too, and the year when it is not this year's.
    const day = { month: "numeric", day: "numeric" };
    if (when.getFullYear() !== now.getFullYear()) day.year = "numeric";
    return when.toLocaleDateString(pageLang, day) + " " + time;
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
    if (seen.has(msg.seq)) return false;
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
      link.addEventListener("click", (ev) => {
        ev.preventDefault();
        openViewer(link.href);
      });
      const img = el("img");
      // Not lazy: its height must be known for the scroll to reach the newest message,
      // and when it arrives after the scroll, the scroll is done again.
      img.addEventListener("load", keepFollowing);
      img.src = mediaUrl(ref);
      img.alt = t.photo_alt;
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
    return true;
  }

  function atBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 48;
  }

  function scrollDown() {
    log.scrollTop = log.scrollHeight;
    window.scrollTo(0, document.body.scrollHeight);
    newer.hidden = true;
  }

  function keepFollowing() {
    if (following) scrollDown();
  }

  // Only the person scrolling up stops the following: a layout change (the status line
  // coming and going, a keyboard replaced) can leave the bottom without any scroll up.
  let lastTop = 0;
  log.addEventListener("scroll", () => {
    const top = log.scrollTop;
    if (atBottom()) following = true;
    else if (top < lastTop) following = false;
    lastTop = top;
    if (following && atBottom()) newer.hidden = true;
  });

  newer.addEventListener("click", () => {
    following = true;
    scrollDown();
  });

  function openViewer(src) {
    viewerImg.src = src;
    viewer.hidden = false;
    document.getElementById("viewer-close").focus();
  }

  function closeViewer() {
    viewer.hidden = true;
    viewerImg.removeAttribute("src");
  }

  viewer.addEventListener("click", closeViewer); // anywhere: the picture, the dark, the button
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && !viewer.hidden) closeViewer();
  });

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

  function toBlob(canvas, quality) {
    return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", quality));
  }

  // The file to send: ``file`` itself when small enough, else a JPEG of at most LONG_SIDE
  // pixels (the smallest quality that fits under the cap), or null if it cannot be read
  // here and is too large as it is.
  async function prepare(file) {
    const cap = cfg.max_upload_bytes;
    if (file.type === "image/gif" && file.size <= cap) return file; // keeps its animation
    let bitmap;
    try {
      bitmap = await createImageBitmap(file);
    } catch (e) {
      return file.size <= cap ? file : null; // the server judges what it is
    }
    const long = Math.max(bitmap.width, bitmap.height);
    if (long <= LONG_SIDE && file.size <= SMALL_ENOUGH) {
      bitmap.close();
      return file;
    }
    const scale = Math.min(1, LONG_SIDE / long);
    const canvas = document.createElement("canvas");
    canvas.width = Math.max(1, Math.round(bitmap.width * scale));
    canvas.height = Math.max(1, Math.round(bitmap.height * scale));
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#fff"; // a transparent PNG's background turns white, not black
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    bitmap.close();
    let blob = null;
    for (const quality of QUALITIES) {
      blob = await toBlob(canvas, quality);
      if (blob && blob.size <= cap) break;
    }
    return blob;
  }

  async function upload(file) {
    if (file.size > SMALL_ENOUGH) showStatus(t.shrinking, true);
    const prepared = await prepare(file);
    if (prepared === null) {
      showStatus(t.cannot_read);
      return;
    }
    if (prepared.size > cfg.max_upload_bytes) {
      showStatus(t.still_too_large);
      return;
    }
    const name = file.name || "photo";
    const data = new FormData();
    data.append("photo", prepared, prepared === file ? name : name.replace(/\.[^.]*$/, "") + ".jpg");
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
    const stay = following || lastSeq === 0;
    let mine = false;
    let theirs = false;
    for (const msg of body.messages) {
      if (render(msg)) {
        if (msg.kind === "user") mine = true;
        else theirs = true;
      }
    }
    if (stay || mine) {
      // What the person just sent, or they were reading the newest: show the newest.
      following = true;
      scrollDown();
    } else if (theirs) {
      newer.hidden = false;
    }
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
