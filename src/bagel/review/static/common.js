// Shared helpers of the review pages: JSON POST with the CSRF token, idempotency keys, logout.
"use strict";
window.bagel = (function () {
  function csrf() {
    const m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.content : "";
  }
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  }
  // POST a JSON body; a network failure is retried (same body, so the same idempotency key):
  // a verdict whose reply was lost is stored once, not twice.
  async function post(url, body, tries) {
    tries = tries || 3;
    let lastError;
    for (let i = 0; i < tries; i++) {
      try {
        const r = await fetch(url, {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
          body: JSON.stringify(body),
        });
        const data = await r.json().catch(() => ({}));
        if (!r.ok) throw Object.assign(new Error(data.error || ("HTTP " + r.status)), { status: r.status, final: true });
        return data;
      } catch (e) {
        lastError = e;
        if (e.final) throw e;
        await new Promise((res) => setTimeout(res, 300 * (i + 1)));
      }
    }
    throw lastError;
  }
  async function getJSON(url) {
    const r = await fetch(url, { credentials: "same-origin" });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(data.error || ("HTTP " + r.status));
    return data;
  }
  document.addEventListener("DOMContentLoaded", () => {
    const out = document.getElementById("logout");
    if (out) out.addEventListener("click", async () => { await post("/api/logout", {}); location.assign("/login"); });
  });
  return { post, getJSON, uuid, csrf };
})();
