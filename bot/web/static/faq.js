/* FAQ editor pages: list (try it, import), entry form (save, checks, conflicts, delete), history (rollback).
 * Every change goes through /api/staff/faq with the session's Bearer token (dmdesk.api).
 * Text is inserted with textContent / dmdesk.el only.
 */
(function () {
  "use strict";
  const el = dmdesk.el;
  const API = "/api/staff/faq";

  function byId(id) { return document.getElementById(id); }

  function showTimes() {
    document.querySelectorAll("time.ts").forEach(function (t) {
      const ts = parseFloat(t.dataset.ts);
      if (!isNaN(ts)) t.textContent = new Date(ts * 1000).toLocaleString();
    });
  }

  function checkList(checks) {
    return el("ul", { class: "check-list" }, checks.map(function (c) {
      const other = c.other_entry ? [" → ", el("a", { href: "/staff/faq/" + c.other_entry }, c.other_entry)] : null;
      return el("li", { class: "check " + c.level, dataset: { code: c.code, field: c.field } },
        el("span", { class: "badge " + (c.level === "error" ? "danger" : "warn") }, c.level),
        " ", el("span", { class: "mono" }, c.field), ": ", c.message, other);
    }));
  }

  // ------------------------------------------------------------------ list page
  /** "name 0.12 · name 3": two decimals (counts as they are with ``counts``). */
  function numbers(values, counts) {
    return Object.keys(values || {}).map(function (k) {
      const v = values[k];
      return k + " " + (typeof v !== "number" ? String(v) : counts && Number.isInteger(v) ? String(v) : v.toFixed(2));
    }).join(" · ");
  }

  /** The closest not-covered question and the lead; above the margin, that is why the bot gives no answer. */
  function notCoveredNote(r, margin) {
    if (!r.not_covered) return null;
    const lead = typeof r.not_covered_lead === "number" ? r.not_covered_lead : null;
    const decisive = lead !== null && lead > margin;
    return el("div", { class: "not-covered" + (decisive ? " decisive" : ""), id: "try-not-covered" },
      el("p", null, "Closest not-covered question: ", el("q", { id: "try-not-covered-text" }, r.not_covered),
        el("span", { class: "muted" }, " · lead " + (lead === null ? "—" : lead.toFixed(3)) +
          " (how much closer the message is to it than to the top entry)")),
      el("p", { id: "try-not-covered-why" }, decisive
        ? "The lead is above " + margin + ": the message is closer to this not-covered question than to the best FAQ entry, so the bot gives no FAQ answer."
        : "The lead is not above " + margin + ": this question does not keep the bot from answering."),
      el("p", { class: "muted" }, el("a", { href: "/staff/faq/not-covered" }, "Questions the FAQ does not cover")));
  }

  function initTry() {
    const form = byId("try-form");
    if (!form) return;
    const margin = parseFloat(form.dataset.notCoveredMargin);
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      const box = byId("try-result");
      const body = { text: byId("try-text").value, strict: byId("try-strict").checked };
      if (byId("try-language").value) body.language = byId("try-language").value;
      try {
        const r = await dmdesk.api("POST", API + "/try", body);
        dmdesk.fill(box,
          el("p", null,
            el("span", { class: "badge " + (r.decision === "answer" ? "ok" : r.decision === "clarify" ? "warn" : "danger"), id: "try-decision" }, r.decision),
            " ", el("span", { class: "muted", id: "try-reason", dataset: { reason: r.reason } }, dmdesk.reasonLabel(r.reason)),
            " ", r.entry_id ? el("a", { href: "/staff/faq/" + r.entry_id, id: "try-entry" }, r.entry_id) : null,
            el("span", { class: "muted" }, " · probability " + r.probability.toFixed(2) + " · reply in " + r.language + " · FAQ v" + r.faq_version)),
          r.reply ? el("blockquote", { id: "try-reply", class: "pre" }, r.reply) : null,
          r.choices.length ? el("p", null, "Offered as choices: " + r.choices.join(", ")) : null,
          notCoveredNote(r, isNaN(margin) ? 0.1 : margin),
          el("table", { class: "candidates" },
            el("thead", null, el("tr", null, el("th", null, "Entry"), el("th", null, "Score"), el("th", null, "Closest text"), el("th", null, "Components"))),
            el("tbody", null, r.candidates.map(function (c) {
              const evidence = numbers(c.evidence, true);
              return el("tr", { dataset: { entry: c.entry_id } },
                el("td", null, el("a", { href: "/staff/faq/" + c.entry_id }, c.entry_id), el("div", { class: "muted" }, c.question)),
                el("td", null, c.score.toFixed(2)), el("td", null, c.matched),
                el("td", { class: "muted" }, numbers(c.components), evidence ? el("div", { class: "evidence" }, "evidence: " + evidence) : null));
            }))));
        box.hidden = false;
      } catch (error) {
        dmdesk.toast(error.message, "error");
      }
    });
  }

  function initImport() {
    const form = byId("import-form");
    if (!form) return;
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      const file = byId("import-file").files[0];
      const out = byId("import-result");
      if (!file) return;
      const format = /\.csv$/i.test(file.name) ? "csv" : "yaml";
      const body = { format: format, content: await file.text(), dry_run: byId("import-dry").checked, delete_missing: byId("import-delete").checked };
      try {
        const r = await dmdesk.api("POST", API + "/import", body);
        dmdesk.fill(out, el("p", { class: "import-report", id: "import-report" },
          (r.applied ? "Applied (FAQ v" + r.faq_version + "): " : "Dry run, nothing applied: ") +
          r.created.length + " created, " + r.updated.length + " updated, " + r.deleted.length + " deleted, " + r.unchanged + " unchanged."),
          r.updated.length ? el("p", { class: "muted" }, "Updated: " + r.updated.join(", ")) : null,
          r.created.length ? el("p", { class: "muted" }, "Created: " + r.created.join(", ")) : null,
          r.deleted.length ? el("p", { class: "muted" }, "Deleted: " + r.deleted.join(", ")) : null,
          r.not_covered_added.length || r.not_covered_removed.length
            ? el("p", { class: "muted", id: "import-not-covered" }, "Not-covered questions: " + r.not_covered_added.length +
                " added, " + r.not_covered_removed.length + " removed.")
            : null);
        out.hidden = false;
        if (r.applied) dmdesk.toast("Imported", "ok");
      } catch (error) {
        const report = error.body && error.body.report;
        if (!report) { dmdesk.toast(error.message, "error"); return; }
        out.replaceChildren(el("p", { class: "error" }, error.message),
          el("table", { id: "import-errors" }, el("thead", null, el("tr", null, el("th", null, "Row"), el("th", null, "Column"), el("th", null, "Problem"))),
            el("tbody", null, report.errors.map(function (e) {
              return el("tr", null, el("td", null, String(e.row)), el("td", { class: "mono" }, e.column || ""), el("td", null, e.message));
            }))));
        out.hidden = false;
      }
    });
  }

  // ----------------------------------------------------------------- edit page
  function altItem(text) {
    const input = el("input", { class: "alt", type: "text", maxlength: "500", "aria-label": "Alternative" });
    input.value = text;
    return el("li", null, input, el("button", { type: "button", class: "btn small danger alt-remove", "aria-label": "Remove" }, "✕"));
  }

  function readForm(form) {
    const answers = {};
    const titles = {};
    form.querySelectorAll("textarea.answer").forEach(function (t) { if (t.value.trim()) answers[t.dataset.language] = t.value; });
    form.querySelectorAll("input.title").forEach(function (t) { if (t.value.trim()) titles[t.dataset.language] = t.value; });
    const alternatives = [];
    form.querySelectorAll("input.alt").forEach(function (a) { if (a.value.trim()) alternatives.push(a.value); });
    const pending = byId("alt-new").value.trim();
    if (pending) alternatives.push(pending);
    return {
      topic: byId("topic").value, question: byId("question").value, enabled: byId("enabled").checked,
      alternatives: alternatives, answers: answers, titles: titles,
    };
  }

  function fillForm(entry) {
    byId("topic").value = entry.topic;
    byId("question").value = entry.question;
    byId("enabled").checked = entry.enabled;
    byId("alternatives").replaceChildren.apply(byId("alternatives"), entry.alternatives.map(altItem));
    document.querySelectorAll("textarea.answer").forEach(function (t) { t.value = entry.answers[t.dataset.language] || ""; });
    document.querySelectorAll("input.title").forEach(function (t) { t.value = entry.titles[t.dataset.language] || ""; });
    counters();
  }

  function counters() {
    document.querySelectorAll("textarea.answer").forEach(function (t) {
      const label = document.querySelector('[data-count-for="' + t.id + '"]');
      if (!label) return;
      const n = t.value.length;
      label.textContent = n + " characters" + (n > 2000 ? " (over Messenger's 2000: sent in parts)" : n > 1000 ? " (over Instagram's 1000: sent in parts)" : "");
      label.classList.toggle("over", n > 1000);
    });
  }

  function entrySummary(entry) {
    return el("dl", { class: "summary" },
      el("dt", null, "Question"), el("dd", null, entry.question),
      el("dt", null, "Topic"), el("dd", null, entry.topic + (entry.enabled ? "" : " (disabled)")),
      el("dt", null, "Alternatives"), el("dd", null, el("ul", null, entry.alternatives.map(function (a) { return el("li", null, a); }))),
      Object.keys(entry.answers).map(function (lang) {
        return [el("dt", null, "Answer " + lang), el("dd", { class: "pre", dataset: { language: lang } }, entry.answers[lang])];
      }));
  }

  function initEdit() {
    const form = byId("entry-form");
    if (!form) return;
    const isNew = form.dataset.new === "true";
    const checksBox = byId("checks");
    const conflictBox = byId("conflict");
    let theirs = null;

    form.addEventListener("click", function (event) {
      const remove = event.target.closest(".alt-remove");
      if (remove) remove.closest("li").remove();
    });
    byId("alt-add").addEventListener("click", function () {
      const input = byId("alt-new");
      if (!input.value.trim()) return;
      byId("alternatives").appendChild(altItem(input.value.trim()));
      input.value = "";
      input.focus();
    });
    byId("alt-new").addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); byId("alt-add").click(); }
    });
    form.addEventListener("input", counters);
    counters();

    function showChecks(checks, title) {
      if (!checks.length) { checksBox.hidden = true; checksBox.replaceChildren(); return; }
      checksBox.replaceChildren(el("h3", null, title), checkList(checks));
      checksBox.hidden = false;
    }

    async function save() {
      const data = readForm(form);
      try {
        let result;
        if (isNew) {
          data.id = byId("entry-id").value.trim();
          result = await dmdesk.api("POST", API + "/entries", data);
        } else {
          data.expected_version = parseInt(form.dataset.version, 10);
          result = await dmdesk.api("PATCH", API + "/entries/" + form.dataset.entryId, data);
        }
        conflictBox.hidden = true;
        byId("alt-new").value = "";
        showChecks(result.warnings, "Saved, with warnings");
        if (isNew) {
          location.assign("/staff/faq/" + result.entry.id);
          return;
        }
        form.dataset.version = String(result.entry.version);
        fillForm(result.entry);
        byId("version-label").textContent = "version " + result.entry.version + " · last saved by " + result.entry.updated_by;
        dmdesk.toast("Saved: version " + result.entry.version + " is live", "ok");
      } catch (error) {
        if (error.status === 409 && error.body && "current" in error.body) {
          theirs = error.body.current;
          byId("conflict-who").textContent = theirs
            ? "Version " + theirs.version + " by " + (theirs.updated_by || "?") + " replaced the version " + form.dataset.version + " you started from."
            : "The entry was deleted meanwhile.";
          byId("conflict-theirs").replaceChildren(theirs ? entrySummary(theirs) : el("p", null, "(deleted)"));
          conflictBox.hidden = false;
          conflictBox.scrollIntoView({ block: "nearest" });
          dmdesk.toast("Not saved: someone else changed this entry", "error");
        } else if (error.status === 422 && error.body && error.body.checks) {
          showChecks(error.body.checks, "Not saved: " + error.message);
        } else {
          dmdesk.toast("Not saved: " + error.message, "error");
        }
      }
    }

    form.addEventListener("submit", function (event) { event.preventDefault(); save(); });
    byId("conflict-mine").addEventListener("click", function () {
      if (theirs) form.dataset.version = String(theirs.version);
      save();
    });
    byId("conflict-theirs-load").addEventListener("click", function () {
      if (!theirs) return;
      form.dataset.version = String(theirs.version);
      fillForm(theirs);
      conflictBox.hidden = true;
    });
    byId("check").addEventListener("click", async function () {
      const data = readForm(form);
      data.id = isNew ? byId("entry-id").value.trim() : form.dataset.entryId;
      try {
        const checks = await dmdesk.api("POST", API + "/checks", data);
        showChecks(checks, checks.length ? "Checks" : "");
        if (!checks.length) dmdesk.toast("No findings", "ok");
      } catch (error) {
        dmdesk.toast(error.message, "error");
      }
    });
    const del = byId("delete");
    if (del) {
      del.addEventListener("click", async function () {
        if (!confirm("Delete this entry? Its history stays and a rollback restores it.")) return;
        try {
          await dmdesk.api("DELETE", API + "/entries/" + form.dataset.entryId + "?expected_version=" + form.dataset.version);
          location.assign("/staff/faq/" + form.dataset.entryId + "/history");
        } catch (error) {
          dmdesk.toast("Not deleted: " + error.message, "error");
        }
      });
    }
  }

  // -------------------------------------------------------------- history page
  function initHistory() {
    const box = byId("history");
    if (!box) return;
    box.addEventListener("click", async function (event) {
      const button = event.target.closest("button.rollback");
      if (!button) return;
      button.disabled = true;
      try {
        const r = await dmdesk.api("POST", API + "/entries/" + box.dataset.entryId + "/rollback",
          { to_version: parseInt(button.dataset.to, 10), expected_version: parseInt(box.dataset.version, 10) });
        dmdesk.toast("Rolled back: version " + r.entry.version + " is live", "ok");
        location.reload();
      } catch (error) {
        button.disabled = false;
        dmdesk.toast("Not rolled back: " + error.message, "error");
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    showTimes();
    initTry();
    initImport();
    initEdit();
    initHistory();
  });
})();
