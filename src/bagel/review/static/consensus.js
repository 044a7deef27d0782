"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const table = document.getElementById("consensus");
  if (!table) return;
  table.addEventListener("click", async (ev) => {
    const b = ev.target.closest("button.resolve");
    if (!b) return;
    const row = b.closest("tr");
    const verdict = row.querySelector("select.resolve-verdict").value;
    try {
      await bagel.post("/api/consensus/" + encodeURIComponent(table.dataset.model) + "/resolve",
                       { key: row.dataset.key, verdict: verdict, idem: bagel.uuid() });
      location.reload();
    } catch (e) { b.textContent = "failed: " + e.message; }
  });
});
