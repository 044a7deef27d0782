"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("login-form");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const token = document.getElementById("login-token");
    const err = document.getElementById("login-error");
    try {
      await bagel.post("/api/login", { name: document.getElementById("login-name").value.trim(), token: token ? token.value : null });
      location.assign(form.dataset.next || "/");
    } catch (e) {
      err.textContent = e.message;
      err.hidden = false;
    }
  });
});
