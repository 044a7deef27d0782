// The review page: every action has a key; verdict keys save the judgement and move on.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("review");
  if (!root) return;
  const model = root.dataset.model, key = root.dataset.key, fq = root.dataset.fq;
  const api = "/api/review/" + encodeURIComponent(model);
  const statusEl = document.getElementById("status");
  const img = document.getElementById("main-image");
  const note = document.getElementById("note");
  const problematic = document.getElementById("problematic");
  let busy = false, zoom = 1;

  function setRadio(name, value) {
    document.querySelectorAll('input[name="' + name + '"]').forEach((r) => { r.checked = r.value === value; });
  }
  function radio(name) {
    const r = document.querySelector('input[name="' + name + '"]:checked');
    return r ? r.value : null;
  }
  setRadio("severity", root.dataset.severity);
  setRadio("category", root.dataset.category);

  function say(text, isError) {
    statusEl.textContent = text;
    statusEl.classList.toggle("error", !!isError);
  }
  function pageUrl(k, extra) {
    const q = new URLSearchParams(fq);
    if (extra) for (const [a, b] of Object.entries(extra)) q.set(a, b);
    if (k) q.set("key", k);
    return "/review/" + encodeURIComponent(model) + "?" + q.toString();
  }
  async function go(direction) {
    if (busy) return;
    busy = true;
    try {
      const q = new URLSearchParams(fq);
      q.set("after", key); q.set("dir", String(direction)); q.set("item", "false");
      const r = await bagel.getJSON(api + "/next?" + q.toString());
      if (r.key) location.assign(pageUrl(r.key));
      else if (direction > 0) location.assign(pageUrl(null));
      else { say("this is the first item"); busy = false; }
    } catch (e) { say(e.message, true); busy = false; }
  }
  async function save(verdict) {
    if (busy) return;
    busy = true;
    say("saving…");
    const keep = verdict !== "correct"; // a valid prediction has no mistake category or severity
    const body = {
      key: key, verdict: verdict, problematic: problematic.checked,
      severity: keep ? radio("severity") : null, category: keep ? radio("category") : null,
      note: note.value, idem: bagel.uuid(),
    };
    try {
      const r = await bagel.post(api + "/verdict", body);
      document.getElementById("progress-reviewed").textContent = r.progress.reviewed;
      say("saved " + verdict);
      busy = false;
      await go(1);
    } catch (e) { say("not saved: " + e.message, true); busy = false; }
  }
  async function undo() {
    if (busy) return;
    busy = true;
    try {
      const r = await bagel.post(api + "/undo", { idem: bagel.uuid() });
      if (r.key) location.assign(pageUrl(r.key));
      else { say("nothing to undo"); busy = false; }
    } catch (e) { say(e.message, true); busy = false; }
  }
  function setZoom(z) {
    zoom = Math.min(8, Math.max(0.25, z));
    img.style.transform = "scale(" + zoom + ")";
    document.getElementById("zoom-level").textContent = Math.round(zoom * 100) + "%";
  }
  function classPage(which) {
    location.assign("/classes/" + encodeURIComponent(root.dataset[which]));
  }

  document.querySelectorAll("button.verdict").forEach((b) => b.addEventListener("click", () => save(b.dataset.verdict)));
  document.getElementById("prev").addEventListener("click", () => go(-1));
  document.getElementById("next").addEventListener("click", () => go(1));
  document.getElementById("undo").addEventListener("click", undo);
  document.getElementById("zoom-in").addEventListener("click", () => setZoom(zoom * 1.5));
  document.getElementById("zoom-out").addEventListener("click", () => setZoom(zoom / 1.5));
  document.getElementById("zoom-reset").addEventListener("click", () => setZoom(1));

  const keys = {
    c: () => save("correct"), w: () => save("wrong"), u: () => save("unclear"),
    p: () => { problematic.checked = !problematic.checked; },
    "1": () => setRadio("severity", "major"), "2": () => setRadio("severity", "minor"), "3": () => setRadio("severity", "borderline"),
    f: () => setRadio("category", "fine-grained"), o: () => setRadio("category", "fine-grained-oov"),
    s: () => setRadio("category", "spurious"), n: () => setRadio("category", "non-prototypical"),
    m: () => note.focus(), j: () => go(1), ArrowRight: () => go(1), k: () => go(-1), ArrowLeft: () => go(-1),
    z: undo, "+": () => setZoom(zoom * 1.5), "=": () => setZoom(zoom * 1.5), "-": () => setZoom(zoom / 1.5), "0": () => setZoom(1),
    g: () => classPage("labelClass"), h: () => classPage("predClass"),
    "?": () => document.getElementById("shortcuts").classList.toggle("open"),
  };
  document.addEventListener("keydown", (ev) => {
    const t = ev.target;
    const typing = t && (t.tagName === "TEXTAREA" || (t.tagName === "INPUT" && t.type !== "checkbox" && t.type !== "radio") || t.tagName === "SELECT");
    if (typing) {
      if (ev.key === "Escape") t.blur();
      return;
    }
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const f = keys[ev.key];
    if (f) { ev.preventDefault(); f(); }
  });
});
