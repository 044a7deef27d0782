// Class browser: edit the labeling guide in place, slide through the class's images.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("class-page");
  if (!root) return;
  const cls = root.dataset.class, split = root.dataset.split;
  const view = document.getElementById("guide-view"), editor = document.getElementById("guide-editor");
  const text = document.getElementById("guide-text"), err = document.getElementById("guide-error");
  const editBtn = document.getElementById("guide-edit");

  editBtn.addEventListener("click", () => { editor.hidden = false; editBtn.hidden = true; text.focus(); });
  document.getElementById("guide-cancel").addEventListener("click", () => { editor.hidden = true; editBtn.hidden = false; });
  document.getElementById("guide-save").addEventListener("click", async () => {
    err.hidden = true;
    try {
      const r = await bagel.post("/api/classes/" + encodeURIComponent(cls) + "/guide",
                                 { body: text.value, base_version: Number(root.dataset.version) });
      root.dataset.version = String(r.version);
      view.innerHTML = r.html; // server-rendered markdown with raw HTML escaped
      document.getElementById("guide-meta").firstChild.textContent = "version " + r.version + " (saved) ";
      editor.hidden = true; editBtn.hidden = false;
    } catch (e) { err.textContent = e.message; err.hidden = false; }
  });

  const slider = document.getElementById("slider");
  if (!slider) return;
  const items = Array.from(document.querySelectorAll("#class-images li"));
  const img = document.getElementById("slide-image");
  function show(i) {
    i = Math.max(0, Math.min(items.length - 1, i));
    slider.value = String(i);
    const it = items[i];
    img.src = "/img/" + encodeURIComponent(split) + "?key=" + encodeURIComponent(it.dataset.key) + "&size=medium";
    document.getElementById("slide-key").textContent = it.dataset.key;
    document.getElementById("slide-problematic").textContent = it.dataset.problematic;
    document.getElementById("slide-pos").textContent = (i + 1) + " / " + items.length;
  }
  slider.addEventListener("input", () => show(Number(slider.value)));
  document.getElementById("slide-prev").addEventListener("click", () => show(Number(slider.value) - 1));
  document.getElementById("slide-next").addEventListener("click", () => show(Number(slider.value) + 1));
});
