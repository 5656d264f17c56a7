// sneakersync ui: the little JavaScript the pages need (camera, progress). No inline script.
"use strict";
(function () {
  const csrf = () => document.querySelector('meta[name="csrf"]').content;

  // --- camera: post frames to the local server, which decodes them with zxing-cpp ---
  function camera(box) {
    const video = box.querySelector("video");
    const status = box.querySelector("[data-status]");
    const startBtn = box.querySelector("[data-start]");
    const url = box.dataset.camera, mode = box.dataset.mode;
    const canvas = document.createElement("canvas");
    let stream = null, busy = false, done = false, timer = null;
    const say = (t) => { status.textContent = t; };
    async function start() {
      if (stream) return;
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
        say("This browser cannot use a camera here."); return;
      }
      try {
        stream = await navigator.mediaDevices.getUserMedia(
          {video: {facingMode: "environment", width: {ideal: 1280}, height: {ideal: 720}}, audio: false});
      } catch (e) { say("The camera could not be opened: " + e.name); return; }
      video.srcObject = stream;
      await video.play().catch(() => {});
      box.dataset.state = "running";
      startBtn.hidden = true;
      say("Looking for a code…");
      timer = setInterval(grab, 120);
    }
    function stop() {
      if (timer) clearInterval(timer);
      if (stream) stream.getTracks().forEach((t) => t.stop());
      stream = null;
    }
    function grab() {
      if (busy || done || !video.videoWidth) return;
      busy = true;
      const scale = Math.min(1, 1280 / video.videoWidth);
      canvas.width = Math.round(video.videoWidth * scale);
      canvas.height = Math.round(video.videoHeight * scale);
      canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
      canvas.toBlob(async (blob) => {
        try {
          const r = await fetch(url, {method: "POST", body: blob, credentials: "same-origin",
            headers: {"X-CSRF-Token": csrf(), "Content-Type": "image/jpeg"}});
          const got = await r.json();
          handle(got);
        } catch (e) { say("Lost contact with the local server."); }
        busy = false;
      }, "image/jpeg", 0.92);
    }
    function handle(got) {
      box.dataset.frames = String((+box.dataset.frames || 0) + 1);
      if (mode === "card") {
        if (!got.found) { if (got.error) say(got.error); return; }
        done = true; stop();
        say("Card found.");
        const form = document.getElementById("add-form");
        document.getElementById("card").value = got.card;
        document.getElementById("found-name").textContent = got.name;
        document.getElementById("found-id").textContent = got.device_id;
        form.hidden = false;
        box.dataset.state = "found";
      } else if (mode === "stream") {
        const bar = document.getElementById("rx-progress");
        if (got.needed) { bar.max = got.needed; bar.value = got.received; }
        document.getElementById("rx-seen").textContent = got.received || 0;
        document.getElementById("rx-k").textContent = got.needed || "?";
        say(got.line || "Looking for a QR stream…");
        if (got.finished) {
          done = true; stop();
          box.dataset.state = "done";
          const rep = document.getElementById("rx-report");
          rep.replaceChildren(...got.report.map((t) => { const li = document.createElement("li"); li.textContent = t; return li; }));
          if (got.ack) {
            const img = document.getElementById("rx-ack");
            img.src = got.ack; document.getElementById("rx-ack-box").hidden = false;
          }
          document.getElementById("rx-done").hidden = false;
        }
      }
    }
    startBtn.addEventListener("click", start);
    start();
  }
  document.querySelectorAll("[data-camera]").forEach(camera);

  // --- background jobs (export/import): poll until done, then show the report ---
  document.querySelectorAll("[data-job]").forEach((box) => {
    const url = box.dataset.job;
    const bar = box.querySelector("progress"), line = box.querySelector("[data-status]");
    async function poll() {
      let got;
      try { got = await (await fetch(url, {credentials: "same-origin"})).json(); }
      catch (e) { line.textContent = "Lost contact with the local server."; return; }
      if (got.total) { bar.max = got.total; bar.value = got.done; }
      line.textContent = got.line;
      if (got.finished) {
        box.dataset.state = got.ok ? "done" : "failed";
        const rep = box.querySelector("[data-report]");
        rep.replaceChildren(...got.report.map((t) => { const li = document.createElement("li"); li.textContent = t; return li; }));
        box.querySelector("[data-after]").hidden = false;
        return;
      }
      setTimeout(poll, 250);
    }
    poll();
  });

  // --- conflicts: choosing a version's value for a field fills the edit box ---
  document.querySelectorAll("[data-pick-for]").forEach((radio) => {
    radio.addEventListener("change", () => {
      const box = document.getElementById(radio.dataset.pickFor);
      if (box && radio.checked) box.value = radio.dataset.value;
    });
  });
})();
// typing in a conflict's edit box chooses "edit" for that field
document.querySelectorAll("input[type=text][id^='e-']").forEach((box) => {
  box.addEventListener("input", () => {
    const radio = box.parentElement.querySelector("input[type=radio][value=edit]");
    if (radio) radio.checked = true;
  });
});
document.querySelectorAll("[data-fullscreen]").forEach((btn) => {
  btn.addEventListener("click", () => {
    const el = document.documentElement;
    if (document.fullscreenElement) document.exitFullscreen();
    else if (el.requestFullscreen) el.requestFullscreen().catch(() => {});
  });
});
