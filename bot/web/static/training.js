/* Training data editor: intents, examples (add, edit, remove), history, retrain / restore with progress. */
(function () {
  "use strict";
  const api = dmdesk.api, el = dmdesk.el, toast = dmdesk.toast;
  const $ = function (id) { return document.getElementById(id); };
  if (!$("intents")) return;
  const state = { intent: null, status: null, polling: null };

  function when(ts) { return ts ? new Date(ts * 1000).toLocaleString() : ""; }

  function showIssues(box, error) {
    box.replaceChildren();
    const issues = (error && error.body && error.body.issues) || [];
    if (!issues.length) { box.appendChild(el("p", { class: "error" }, error.message)); return; }
    issues.forEach(function (i) { box.appendChild(el("p", { class: "error issue", dataset: { code: i.code } }, i.message)); });
  }

  const call = api;

  async function loadStatus() {
    const status = await api("GET", "/api/training/intents");
    state.status = status;
    const list = $("intents");
    list.replaceChildren();
    status.intents.forEach(function (i) {
      const langs = Object.keys(i.languages).sort().map(function (l) { return l + " " + i.languages[l]; }).join(", ");
      const link = el("a", { href: "#" + i.intent, class: i.intent === state.intent ? "active" : "", title: langs,
        dataset: { intent: i.intent }, onclick: function (e) { e.preventDefault(); select(i.intent); } },
        el("span", {}, i.intent), el("span", { class: "muted" }, String(i.examples)));
      list.appendChild(el("li", {}, link));
    });
    const issues = $("set-issues");
    issues.replaceChildren();
    status.issues.forEach(function (i) {
      issues.appendChild(el("p", { class: i.severity === "error" ? "error issue" : "muted issue" }, i.message));
    });
    await loadModels();
  }

  async function select(intent) {
    state.intent = intent;
    location.hash = intent;
    $("intent-title").textContent = intent;
    $("add-form").hidden = false;
    $("issues").replaceChildren();
    document.querySelectorAll("#intents a").forEach(function (a) { a.classList.toggle("active", a.dataset.intent === intent); });
    await Promise.all([loadExamples(), loadHistory()]);
  }

  async function loadExamples() {
    const lang = $("filter-language").value;
    const path = "/api/training/intents/" + encodeURIComponent(state.intent) + "/examples" + (lang ? "?language=" + lang : "");
    const items = await api("GET", path);
    const body = $("examples");
    body.replaceChildren();
    items.forEach(function (ex) { body.appendChild(row(ex)); });
  }

  function row(ex) {
    const text = el("td", { class: "text" }, ex.text);
    const edit = el("button", { type: "button", class: "btn small", onclick: function () { startEdit(tr, ex); } }, "Edit");
    const remove = el("button", { type: "button", class: "btn small danger", onclick: function () { removeExample(ex); } }, "Remove");
    const tr = el("tr", { dataset: { id: ex.id, version: String(ex.version) } }, text,
      el("td", {}, ex.language || "—"), el("td", { class: "muted" }, ex.updated_by), el("td", { class: "row" }, edit, remove));
    return tr;
  }

  function startEdit(tr, ex) {
    const input = el("input", { value: ex.text, maxlength: "2000", "aria-label": "Example text" });
    const save = el("button", { type: "submit", class: "btn small primary" }, "Save");
    const cancel = el("button", { type: "button", class: "btn small", onclick: loadExamples }, "Cancel");
    const form = el("form", { class: "row", onsubmit: async function (e) {
      e.preventDefault();
      try {
        await call("PATCH", "/api/training/examples/" + ex.id, { version: ex.version, text: input.value });
        toast("Saved", "ok");
        await refreshIntent();
      } catch (error) {
        if (error.status === 409) { toast(error.message, "error"); await loadExamples(); }
        else showIssues($("issues"), error);
      }
    } }, input, save, cancel);
    tr.cells[0].replaceChildren(form);
    input.focus();
  }

  async function removeExample(ex) {
    try {
      await call("DELETE", "/api/training/examples/" + ex.id + "?version=" + ex.version);
      toast("Removed", "ok");
      await refreshIntent();
    } catch (error) {
      toast(error.message, "error");
      if (error.status === 409) await loadExamples();
    }
  }

  async function loadHistory() {
    const items = await api("GET", "/api/training/intents/" + encodeURIComponent(state.intent) + "/history?limit=50");
    const body = $("history");
    body.replaceChildren();
    items.forEach(function (h) {
      body.appendChild(el("tr", {}, el("td", {}, when(h.at)), el("td", {}, h.by), el("td", {}, h.action),
        el("td", {}, h.before ? h.before.text + " (" + h.before.intent + ")" : ""),
        el("td", {}, h.after ? h.after.text + " (" + h.after.intent + ")" : "")));
    });
  }

  async function refreshIntent() {
    await loadStatus();
    await Promise.all([loadExamples(), loadHistory()]);
  }

  $("add-form").addEventListener("submit", async function (e) {
    e.preventDefault();
    const body = { text: $("add-text").value };
    if ($("add-language").value) body.language = $("add-language").value;
    try {
      await call("POST", "/api/training/intents/" + encodeURIComponent(state.intent) + "/examples", body);
      $("add-text").value = "";
      $("issues").replaceChildren();
      toast("Added", "ok");
      await refreshIntent();
    } catch (error) { showIssues($("issues"), error); }
  });
  $("filter-language").addEventListener("change", function () { if (state.intent) loadExamples(); });

  // ------------------------------------------------------------------ model and jobs
  async function loadModels() {
    const models = await api("GET", "/api/training/models");
    const active = models.active;
    $("model-active").textContent = active ? active.version : "(not reported yet)";
    $("model-previous").textContent = active && active.previous ? "previous: " + active.previous : "";
    $("restore").disabled = !(active && active.previous);
    const record = active && models.models.find(function (m) { return m.version === active.version; });
    const trained = record && record.data_version;
    const now = state.status ? state.status.data_version : null;
    $("data-state").textContent = "Training data version " + now + (trained ? "; the model was trained on version " + trained
      : "; the model was trained on the repository's files") + (trained && trained !== now ? " (retrain to use the changes)" : "");
  }

  function showJob(job) {
    $("job").hidden = false;
    $("job-id").textContent = job.id;
    $("job-kind").textContent = job.kind + (job.model_version ? " → " + job.model_version : "");
    const badge = $("job-state");
    badge.textContent = job.state;
    badge.className = "badge " + (job.state === "done" ? "ok" : job.state === "failed" ? "danger" : "accent");
    $("job-error").textContent = job.error || "";
    const states = $("job-states");
    states.replaceChildren();
    job.history.forEach(function (h) { states.appendChild(el("li", {}, h.state + " · " + when(h.at))); });
    $("job-log").textContent = (job.log_tail || []).join("\n");
    const busy = job.state !== "done" && job.state !== "failed";
    $("retrain").disabled = busy;
    if (busy) $("restore").disabled = true;
    return busy;
  }

  async function poll(jobId) {
    clearTimeout(state.polling);
    const job = await api("GET", "/api/training/jobs/" + jobId);
    if (showJob(job)) { state.polling = setTimeout(function () { poll(jobId); }, 1000); return; }
    toast(job.state === "done" ? "Model swapped in: " + (job.model_version || "") : "Job failed: " + job.error,
      job.state === "done" ? "ok" : "error");
    await loadStatus();
  }

  async function start(path, body) {
    try {
      const job = await call("POST", path, body);
      showJob(job);
      poll(job.id);
    } catch (error) { toast(error.message, "error"); }
  }
  $("retrain").addEventListener("click", function () { start("/api/training/jobs", {}); });
  $("restore").addEventListener("click", function () { start("/api/training/models/restore", {}); });

  (async function init() {
    try {
      await loadStatus();
      const jobs = await api("GET", "/api/training/jobs?limit=1");
      if (jobs.length && showJob(jobs[0])) poll(jobs[0].id);
      const wanted = decodeURIComponent(location.hash.slice(1));
      if (wanted && state.status.intents.some(function (i) { return i.intent === wanted; })) await select(wanted);
    } catch (error) { toast(error.message, "error"); }
  })();
})();
