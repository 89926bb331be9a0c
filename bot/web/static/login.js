/* The login page: POST /api/agent/session, keep the token, go to ?next (a path on this site). */
(function () {
  "use strict";

  function safeNext(value) {
    return /^\/(?![\/\\])[\x21-\x7e]*$/.test(value || "") ? value : "/console";
  }

  const MESSAGES = {
    401: "Wrong brand, username or password.",
    422: "Fill in the brand, username and password.",
    429: "Too many failed logins: this account is locked for a while. Try again later.",
  };

  document.addEventListener("DOMContentLoaded", function () {
    const form = document.getElementById("login");
    const error = document.getElementById("login-error");
    const submit = document.getElementById("login-submit");
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      error.hidden = true;
      const body = {
        brand: form.brand.value.trim().toLowerCase(),
        username: form.username.value.trim().toLowerCase(),
        password: form.password.value,
      };
      if (!body.brand || !body.username || !body.password) {
        error.textContent = MESSAGES[422];
        error.hidden = false;
        return;
      }
      submit.disabled = true;
      try {
        const session = await dmdesk.api("POST", "/api/agent/session", body);
        dmdesk.setToken(session.token);
        location.replace(safeNext(form.dataset.next));
      } catch (e) {
        error.textContent = MESSAGES[e.status] || e.message;
        error.hidden = false;
        form.password.value = "";
        form.password.focus();
      } finally {
        submit.disabled = false;
      }
    });
  });
})();
