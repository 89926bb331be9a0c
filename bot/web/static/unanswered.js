/* Unanswered inbox: groups of similar messages; add one as an FAQ alternative, start an entry, dismiss, or
 * dismiss as not covered (the texts join the FAQ's not-covered questions: similar messages get no FAQ answer). */
(function () {
  "use strict";
  const api = dmdesk.api, el = dmdesk.el, toast = dmdesk.toast;
  const $ = function (id) { return document.getElementById(id); };
  const entries = JSON.parse($("faq-entries").textContent);
  const defaultLanguage = $("faq-meta").dataset.defaultLanguage;

  function when(ts) { return new Date(ts * 1000).toLocaleString(); }

  function entrySelect(preferred) {
    const select = el("select", { class: "entry-select", "aria-label": "FAQ entry" });
    const first = preferred.filter(function (id) { return entries.some(function (e) { return e.id === id; }); });
    const ordered = first.map(function (id) { return entries.find(function (e) { return e.id === id; }); })
      .concat(entries.filter(function (e) { return first.indexOf(e.id) === -1; }));
    ordered.forEach(function (e) { select.appendChild(el("option", { value: e.id }, e.id + " — " + e.question)); });
    return select;
  }

  function report(result, what) {
    const left = result.still_open.length;
    toast(what + ": " + result.resolved.length + " answered now" + (left ? ", " + left + " still unanswered" : ""), "ok");
  }

  function groupCard(g) {
    const select = entrySelect(g.candidates);
    const add = el("button", { type: "button", class: "btn primary add-alternative" }, "Add as alternative");
    add.addEventListener("click", async function () {
      add.disabled = true;
      try {
        report(await api("POST", "/api/unanswered/" + g.id + "/alternative", { entry_id: select.value }), "Added to " + select.value);
        await load();
      } catch (error) { toast(error.message, "error"); add.disabled = false; }
    });
    const lang = g.language || defaultLanguage;
    const form = el("form", { class: "entry", hidden: true },
      el("label", {}, "Entry id", el("input", { name: "id", required: true, pattern: "[a-z0-9][a-z0-9_]{1,79}", placeholder: "e.g. store_wifi" })),
      el("label", {}, "Topic", el("input", { name: "topic", required: true, maxlength: "40", placeholder: "e.g. store" })),
      el("label", { class: "wide" }, "Question", el("input", { name: "question", required: true, value: g.text })),
      el("label", { class: "wide" }, "Answer (" + lang + ")", el("textarea", { name: "answer", required: true })),
      el("div", { class: "row wide" }, el("button", { type: "submit", class: "btn primary" }, "Create entry")));
    form.addEventListener("submit", async function (e) {
      e.preventDefault();
      const data = new FormData(form);
      const others = g.members.slice(1).map(function (m) { return m.text; });
      const answers = {};
      answers[lang] = data.get("answer");
      const body = { id: data.get("id"), topic: data.get("topic"), question: data.get("question"),
        alternatives: others, answers: answers };
      try {
        report(await api("POST", "/api/unanswered/" + g.id + "/entry", body), "Entry " + body.id + " created");
        await load();
      } catch (error) { toast(error.message, "error"); }
    });
    const start = el("button", { type: "button", class: "btn small" }, "Start a new entry");
    start.addEventListener("click", function () { form.hidden = !form.hidden; });
    const ids = g.members.map(function (m) { return m.id; });
    const dismiss = el("button", { type: "button", class: "btn small danger dismiss" }, "Dismiss");
    dismiss.addEventListener("click", async function () {
      try {
        await api("POST", "/api/unanswered/dismiss", { ids: ids });
        await load();
      } catch (error) { toast(error.message, "error"); }
    });
    const notCovered = el("button", { type: "button", class: "btn small mark-not-covered",
      title: "Dismiss, and give no FAQ answer to similar questions" }, "Not covered");
    notCovered.addEventListener("click", async function () {
      notCovered.disabled = true;
      try {
        const n = (await api("POST", "/api/unanswered/dismiss", { ids: ids, not_covered: true })).dismissed;
        toast(n + " message" + (n === 1 ? "" : "s") + " remembered as not covered: similar questions get no FAQ answer", "ok");
        await load();
      } catch (error) { toast(error.message, "error"); notCovered.disabled = false; }
    });
    const kinds = Object.keys(g.kinds).map(function (k) { return el("span", { class: "badge" }, k + " " + g.kinds[k]); });
    const reasons = Object.keys(g.reasons || {}).map(function (r) {
      return el("span", { class: "badge reason", dataset: { reason: r }, title: "why the bot did not answer" }, dmdesk.reasonLabel(r) + " " + g.reasons[r]);
    });
    const members = el("details", {}, el("summary", {}, g.count + " message" + (g.count > 1 ? "s" : "")),
      el("ul", {}, g.members.map(function (m) {
        return el("li", {}, m.text, " ", el("span", { class: "muted" }, "(" + m.kind + (m.reason ? ", " + dmdesk.reasonLabel(m.reason) : "") + ", " + when(m.at) + ")"));
      })));
    return el("article", { class: "card group", dataset: { group: g.id, text: g.text } },
      el("div", { class: "head" }, el("span", { class: "badge accent count" }, String(g.count)),
        el("span", { class: "text" }, g.text), el("span", { class: "badge" }, g.language || "none"), kinds, reasons,
        el("span", { class: "muted" }, when(g.newest_at))),
      members,
      el("div", { class: "actions" }, select, add),
      el("div", { class: "row" }, start, dismiss, notCovered), form);
  }

  async function load() {
    const lang = $("language").value;
    try {
      const inbox = await api("GET", "/api/unanswered" + (lang ? "?language=" + lang : ""));
      $("summary").textContent = inbox.open_messages + " open messages in " + inbox.groups.length + " groups";
      const box = $("groups");
      box.replaceChildren();
      if (!inbox.groups.length) box.appendChild(el("p", { class: "muted empty" }, "Nothing unanswered."));
      inbox.groups.forEach(function (g) { box.appendChild(groupCard(g)); });
    } catch (error) { toast(error.message, "error"); }
  }
  $("language").addEventListener("change", load);
  $("reload").addEventListener("click", load);
  load();
})();
