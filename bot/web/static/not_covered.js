/* FAQ: the questions no entry answers (/staff/faq/not-covered): filter, add (one per line), remove.
 * Changes go through /api/staff/faq/not-covered with the session's Bearer token (dmdesk.api);
 * text is inserted with textContent / dmdesk.el only.
 */
(function () {
  "use strict";
  const el = dmdesk.el, toast = dmdesk.toast;
  const API = "/api/staff/faq/not-covered";
  const $ = function (id) { return document.getElementById(id); };
  let questions = JSON.parse($("nc-data").textContent).questions;

  function plural(n, one, many) { return n + " " + (n === 1 ? one : many); }

  function row(text) {
    const remove = el("button", { type: "button", class: "btn small danger nc-remove", title: "Remove from the list" }, "Remove");
    remove.addEventListener("click", async function () {
      remove.disabled = true;
      try {
        show(await dmdesk.api("POST", API, { add: [], remove: [text] }));
        toast("Removed: the bot may answer similar questions again", "ok");
      } catch (error) {
        remove.disabled = false;
        toast("Not removed: " + error.message, "error");
      }
    });
    return el("tr", { class: "nc-row", dataset: { text: text } }, el("td", { class: "nc-text" }, text), el("td", { class: "nc-actions" }, remove));
  }

  function render() {
    const words = $("nc-filter").value.toLowerCase().split(/\s+/).filter(Boolean);
    const shown = questions.filter(function (q) {
      const low = q.toLowerCase();
      return words.every(function (w) { return low.indexOf(w) !== -1; });
    });
    const rows = shown.map(row);
    if (!rows.length) rows.push(el("tr", null, el("td", { colspan: "2", class: "muted" }, questions.length ? "No question matches." : "No question yet.")));
    $("nc-rows").replaceChildren.apply($("nc-rows"), rows);
    $("nc-total").textContent = "· " + questions.length;
    $("nc-count").textContent = shown.length === questions.length
      ? plural(questions.length, "question", "questions")
      : shown.length + " of " + plural(questions.length, "question", "questions") + " shown";
  }

  function show(list) {
    questions = list.questions;
    render();
  }

  $("nc-add-form").addEventListener("submit", async function (event) {
    event.preventDefault();
    const lines = $("nc-add-text").value.split("\n").map(function (l) { return l.trim(); }).filter(Boolean);
    if (!lines.length) return;
    const button = $("nc-add-submit");
    button.disabled = true;
    try {
      const before = questions.length;
      show(await dmdesk.api("POST", API, { add: lines, remove: [] }));
      $("nc-add-text").value = "";
      const added = questions.length - before;
      toast(added ? plural(added, "question", "questions") + " added: live within moments" : "Already in the list", "ok");
    } catch (error) {
      toast("Not added: " + error.message, "error");
    } finally {
      button.disabled = false;
    }
  });
  $("nc-filter").addEventListener("input", render);
  $("nc-filter-form").addEventListener("submit", function (event) { event.preventDefault(); });
  render();
})();
