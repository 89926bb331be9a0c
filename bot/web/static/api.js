/* dmdesk pages: the JSON API client and small DOM helpers shared by every page.
 *
 * dmdesk.api(method, path, body?) -> Promise of the parsed JSON (null for 204).
 *   Sends "Authorization: Bearer <token>" (sessionStorage "dmdesk-token", set at login).
 *   401 (or no token): goes to /login?next=<this page>. Other errors: throws an Error
 *   whose .status and .detail come from the response's {"detail": ...} (.body: the whole JSON body).
 * dmdesk.request(method, path, body?): the same, resolving to {data, headers}.
 * dmdesk.esc(text): HTML-escaped text. Prefer element.textContent or dmdesk.el().
 * dmdesk.el(tag, attrs, ...children): an element; strings become text nodes (never HTML).
 * dmdesk.fill(node, ...children): replace node's children the same way (null/false skipped, arrays flattened).
 * dmdesk.reasonLabel(reason): a readable label for an FAQ decision's reason (bot.faq.kb.DecisionReason).
 */
(function () {
  "use strict";

  const TOKEN_KEY = "dmdesk-token";
  const LOGIN_PATH = "/api/agent/session";

  function here() {
    return location.pathname + location.search;
  }

  function toLogin() {
    sessionStorage.removeItem(TOKEN_KEY);
    location.assign("/login?next=" + encodeURIComponent(here()));
  }

  /** A readable message from FastAPI's {"detail": ...} (a string, or a list of validation errors). */
  function describe(detail, status) {
    if (typeof detail === "string" && detail) return detail;
    if (Array.isArray(detail) && detail.length) {
      return detail
        .map(function (e) {
          const where = (e.loc || []).filter(function (p) { return p !== "body"; }).join(".");
          return (where ? where + ": " : "") + (e.msg || "invalid");
        })
        .join("; ");
    }
    return "request failed (HTTP " + status + ")";
  }

  async function api(method, path, body) {
    return (await request(method, path, body)).data;
  }

  /** Like api(), resolving to {data, headers} (e.g. the queue's X-Total-Count). */
  async function request(method, path, body) {
    const isLogin = path === LOGIN_PATH && method.toUpperCase() === "POST";
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (!token && !isLogin) {
      toLogin();
      return new Promise(function () {}); // the page is going away
    }
    const headers = { Accept: "application/json" };
    if (token && !isLogin) headers.Authorization = "Bearer " + token;
    const init = { method: method.toUpperCase(), headers: headers, credentials: "same-origin", cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (networkError) {
      const error = new Error("the server cannot be reached");
      error.status = 0;
      error.detail = String(networkError);
      throw error;
    }
    if (response.status === 401 && !isLogin) {
      toLogin();
      return new Promise(function () {});
    }
    if (response.status === 204) return { data: null, headers: response.headers };
    let data = null;
    const type = response.headers.get("content-type") || "";
    if (type.indexOf("application/json") !== -1) data = await response.json();
    if (!response.ok) {
      const detail = data && data.detail !== undefined ? data.detail : null;
      const error = new Error(describe(detail, response.status));
      error.status = response.status;
      error.detail = detail;
      error.body = data; // the whole error body (e.g. a 409's "current", a 422's "checks")
      throw error;
    }
    return { data: data, headers: response.headers };
  }

  const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

  function esc(text) {
    return String(text === null || text === undefined ? "" : text).replace(/[&<>"']/g, function (c) {
      return ESCAPES[c];
    });
  }

  /** el("li", {class: "row", dataset: {id: "x"}, onclick: fn}, "text", child) */
  function el(tag, attrs) {
    const node = document.createElement(tag);
    const props = attrs || {};
    Object.keys(props).forEach(function (name) {
      const value = props[name];
      if (value === null || value === undefined || value === false) return;
      if (name === "class") node.className = value;
      else if (name === "dataset") Object.assign(node.dataset, value);
      else if (name.slice(0, 2) === "on" && typeof value === "function") node.addEventListener(name.slice(2), value);
      else if (name === "text") node.textContent = value;
      else if (value === true) node.setAttribute(name, "");
      else node.setAttribute(name, String(value));
    });
    for (let i = 2; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }

  function append(node, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) child.forEach(function (c) { append(node, c); });
    else node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }

  function fill(node) {
    node.replaceChildren();
    for (let i = 1; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }

  /** A short message at the bottom of the page ("error" kind stays longer). */
  function toast(message, kind) {
    const box = document.getElementById("toasts");
    if (!box) return;
    const item = el("div", { class: "toast " + (kind || "info") }, message);
    box.appendChild(item);
    setTimeout(function () { item.remove(); }, kind === "error" ? 8000 : 3500);
  }

  function setToken(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
  }

  async function logout() {
    const token = sessionStorage.getItem(TOKEN_KEY);
    sessionStorage.removeItem(TOKEN_KEY);
    if (token) {
      try {
        await fetch(LOGIN_PATH, { method: "DELETE", headers: { Authorization: "Bearer " + token }, credentials: "same-origin" });
      } catch (ignored) {
        /* the session expires by itself */
      }
    }
    location.assign("/login");
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-logout]").forEach(function (button) {
      button.addEventListener("click", logout);
    });
  });

  const REASONS = {
    confident: "sure of the entry",
    close_call: "close call between entries",
    low_confidence: "no entry fits well",
    strict: "out of scope, not sure enough",
    not_covered: "on the not-covered list",
    empty: "no FAQ entry",
    spam: "spam, not searched",
  };

  function reasonLabel(reason) {
    return REASONS[reason] || String(reason || "");
  }

  window.dmdesk = { api: api, request: request, esc: esc, el: el, fill: fill, toast: toast, setToken: setToken, logout: logout, reasonLabel: reasonLabel, TOKEN_KEY: TOKEN_KEY };
})();
