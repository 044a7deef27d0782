"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("export-form");
  if (!form) return;
  const sel = document.getElementById("export-source");
  const base = "/api/export/" + encodeURIComponent(form.dataset.model) + "/";
  function update() {
    const q = sel.value ? "?reviewer=" + encodeURIComponent(sel.value) : "";
    document.getElementById("export-mistakes").href = base + "mistakes.json" + q;
    document.getElementById("export-multilabel").href = base + "multilabel.json" + q;
  }
  sel.addEventListener("change", update);
  update();
});
