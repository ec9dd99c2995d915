// The live queue: waits for new tickets (long-poll on the event log's tail) and puts
// them on top of the table, with a sound and a browser notification that staff can
// switch off (remembered in this browser). No inline script: the CSP forbids it.
"use strict";
(function () {
  const table = document.getElementById("queue");
  if (!table || !table.dataset.liveFrom) return;
  const body = table.tBodies[0];
  const sound = document.getElementById("sound");
  const notify = document.getElementById("notify");
  let after = table.dataset.liveFrom;

  for (const box of [sound, notify]) {
    const kept = localStorage.getItem("console." + box.id);
    if (kept !== null) box.checked = kept === "1";
    box.addEventListener("change", () => {
      localStorage.setItem("console." + box.id, box.checked ? "1" : "0");
      if (box === notify && box.checked && "Notification" in window) {
        Notification.requestPermission();
      }
    });
  }

  function beep() {
    try {
      const audio = new AudioContext();
      const tone = audio.createOscillator();
      tone.frequency.value = 880;
      tone.connect(audio.destination);
      tone.start();
      tone.stop(audio.currentTime + 0.2);
    } catch (e) { /* no audio: the row still appears */ }
  }

  function rowOf(row) {
    const tr = document.createElement("tr");
    tr.className = "fresh";
    tr.dataset.number = row.number;
    const link = document.createElement("a");
    link.href = row.url;
    link.textContent = row.number;
    const first = document.createElement("td");
    first.appendChild(link);
    tr.appendChild(first);
    for (const key of ["state", "category", "area", "spot", "priority", "holder", "left"]) {
      const td = document.createElement("td");
      td.textContent = row[key];
      if (key === "left" && row.late) td.className = "late";
      tr.appendChild(td);
    }
    return tr;
  }

  async function wait() {
    for (;;) {
      try {
        const answer = await fetch("/console/api/new?after=" + encodeURIComponent(after), {
          credentials: "same-origin", cache: "no-store",
        });
        if (answer.status === 401) { location.href = "/console/login"; return; }
        if (!answer.ok) throw new Error(String(answer.status));
        const data = await answer.json();
        after = String(data.after);
        if (data.rows.length) {
          const empty = body.querySelector("tr.empty");
          if (empty) empty.remove();
          for (const row of data.rows) {
            if (!body.querySelector('tr[data-number="' + CSS.escape(row.number) + '"]')) {
              body.insertBefore(rowOf(row), body.firstChild);
            }
          }
          if (sound.checked) beep();
          if (notify.checked && "Notification" in window && Notification.permission === "granted") {
            new Notification(data.notice, { body: data.rows.map((r) => r.number + " " + r.category).join("\n") });
          }
        }
      } catch (e) {
        await new Promise((done) => setTimeout(done, 3000));
      }
    }
  }
  wait();
})();
