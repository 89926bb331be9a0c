/* The live agent console: queue, conversation, context, reply box.
 *
 * State comes from the JSON API (/api/agent/*); changes arrive through the SSE stream
 * GET /api/agent/events (the session cookie authenticates the EventSource). Pub/sub has no
 * replay, so after every reconnect the queue and the open ticket are loaded again.
 * Every customer-supplied string is inserted as text (dmdesk.el / textContent), never as HTML.
 */
(function () {
  "use strict";

  const el = dmdesk.el;
  const fill = dmdesk.fill;
  // The sentence of a longer message that was read as a request for a person (bot/nlu/handoff.py), for a title.
  const readFrom = (line) => (line.read_from ? " from the sentence \u201c" + line.read_from + "\u201d" : "");
  const api = dmdesk.api;
  const PAGE = 50; // queue rows per page: a refresh reads one page, however long the queue is
  const QUEUE_GAP_MS = 250; // at most 4 queue reloads a second, however many events arrive
  const EVENT_TYPES = [
    "ticket.created", "ticket.customer_message", "ticket.claimed", "ticket.transferred", "ticket.released",
    "ticket.replied", "ticket.delivery", "ticket.note", "ticket.resolved", "ticket.reopened", "ticket.escalated",
  ];
  const QUEUE_EVENTS = new Set([
    "ticket.created", "ticket.customer_message", "ticket.claimed", "ticket.transferred", "ticket.released",
    "ticket.resolved", "ticket.reopened", "ticket.escalated",
  ]);
  const REASONS = {
    requested_human: "asked for a person",
    angry_complaint: "angry",
    repeated_failure: "bot failed twice",
    accepted_offer: "accepted the offer of a person",
    agent_answered_in_inbox: "answered in Meta's inbox",
    keyword: "keyword",
  };
  const CHANNELS = { dev: "Dev", messenger: "Messenger", instagram: "Instagram" };

  const config = JSON.parse(document.getElementById("console-config").textContent);
  const me = config.me;
  const agentsByName = new Map(config.agents.map(function (a) { return [a.username, a]; }));

  const state = {
    tab: "waiting",
    filters: { channel: "", language: "", priority: "", team: "" },
    offset: 0,
    rows: [],
    hasNext: false,
    clockOffset: 0, // server time - browser time, from the last queue read
    counts: { waiting: null, exact: false, mine: null },
    selected: null,
    view: null,
    suggestionsFor: null,
    canned: [],
    mode: "reply",
    lastMine: null, // the last ticket the reply box was opened in reply mode for
    drafts: new Map(),
    unread: new Set(),
    everReady: false,
  };

  const $ = function (id) { return document.getElementById(id); };

  // ------------------------------------------------------------------ formatting
  function duration(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    if (s < 60) return s + " s";
    const m = Math.floor(s / 60);
    if (m < 60) return m + " min";
    const h = Math.floor(m / 60);
    if (h < 24) return h + " h " + (m % 60) + " min";
    return Math.floor(h / 24) + " d " + (h % 24) + " h";
  }

  function clock(ts) {
    const d = new Date(ts * 1000);
    const today = new Date();
    const time = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    if (d.toDateString() === today.toDateString()) return time;
    return d.toLocaleDateString([], { day: "numeric", month: "short" }) + " " + time;
  }

  function fullTime(ts) {
    return new Date(ts * 1000).toLocaleString();
  }

  function agentName(username) {
    const a = agentsByName.get(username);
    return a ? a.display_name + (a.display_name !== username ? " (" + username + ")" : "") : username;
  }

  function reasonLabel(reason) {
    return REASONS[reason] || String(reason || "").replace(/_/g, " ");
  }

  function priorityBadge(p) {
    return el("span", { class: "badge prio p" + p, title: "priority " + p + " (1 is most urgent)" }, "P" + p);
  }

  function customerLabel(name, conversationId) {
    return name || conversationId.split(":").slice(1).join(":") || conversationId;
  }

  // ------------------------------------------------------------------ helpers
  /** Runs fn at most once at a time (and not more often than gapMs); calls during a run coalesce. */
  function coalesced(fn, gapMs) {
    let running = false;
    let again = false;
    let last = 0;
    async function run() {
      if (running) { again = true; return; }
      const wait = last + (gapMs || 0) - Date.now();
      if (wait > 0) { running = true; await new Promise(function (r) { setTimeout(r, wait); }); running = false; }
      running = true;
      last = Date.now();
      try {
        await fn();
      } catch (e) {
        dmdesk.toast(e.message, "error");
      } finally {
        running = false;
        if (again) { again = false; run(); }
      }
    }
    return run;
  }

  /** Keyed rendering: a node is rebuilt only when its data changed, and stays in place otherwise
   * (no flicker, text selections and focus survive live updates). */
  function keyedRenderer(build) {
    let cache = new Map();
    return function render(list, items) {
      const next = new Map();
      const nodes = items.map(function (item) {
        const signature = JSON.stringify(item.data);
        const old = cache.get(item.key);
        const node = old && old.signature === signature ? old.node : build(item.data);
        next.set(item.key, { signature: signature, node: node });
        return node;
      });
      cache = next;
      let cursor = list.firstChild;
      nodes.forEach(function (node) {
        if (node === cursor) cursor = cursor.nextSibling;
        else list.insertBefore(node, cursor);
      });
      while (cursor) {
        const after = cursor.nextSibling;
        list.removeChild(cursor);
        cursor = after;
      }
    };
  }

  async function act(button, work, okMessage) {
    if (button) button.disabled = true;
    try {
      const result = await work();
      if (okMessage) dmdesk.toast(okMessage, "ok");
      return result;
    } catch (e) {
      dmdesk.toast(e.message, "error");
      return undefined;
    } finally {
      if (button) button.disabled = false;
      refreshTicket();
      refreshQueue();
    }
  }

  function saveUrl() {
    const params = new URLSearchParams();
    if (state.selected) params.set("ticket", state.selected);
    if (state.tab !== "waiting") params.set("tab", state.tab);
    Object.keys(state.filters).forEach(function (k) { if (state.filters[k]) params.set(k, state.filters[k]); });
    const query = params.toString();
    history.replaceState(null, "", location.pathname + (query ? "?" + query : ""));
  }

  function loadUrl() {
    const params = new URLSearchParams(location.search);
    if (/^[a-f0-9]{12}$/.test(params.get("ticket") || "")) state.selected = params.get("ticket");
    if (["waiting", "mine", "claimed"].indexOf(params.get("tab")) !== -1) state.tab = params.get("tab");
    Object.keys(state.filters).forEach(function (k) {
      const select = $("filter-" + k);
      const value = params.get(k) || "";
      if (value && Array.from(select.options).some(function (o) { return o.value === value; })) {
        state.filters[k] = value;
        select.value = value;
      }
    });
  }

  // ------------------------------------------------------------------ the queue
  function queuePath(tab, limit, offset) {
    if (tab === "mine") return "/api/agent/tickets/claimed";
    if (tab === "claimed") return "/api/agent/tickets/claimed?assignee=all";
    const params = new URLSearchParams({ limit: String(limit), offset: String(offset) });
    Object.keys(state.filters).forEach(function (k) { if (state.filters[k]) params.set(k, state.filters[k]); });
    return "/api/agent/queue?" + params.toString();
  }

  // One page of the waiting queue (one row more, to know whether a next page exists) and my tickets
  // are read on every refresh, for the tab counts; everyone's claimed tickets only while that tab is open.
  const refreshQueue = coalesced(async function () {
    const offset = state.tab === "waiting" ? state.offset : 0;
    const requests = [dmdesk.request("GET", queuePath("waiting", PAGE + 1, offset)), api("GET", queuePath("mine"))];
    if (state.tab === "claimed") requests.push(api("GET", queuePath("claimed")));
    const results = await Promise.all(requests);
    const waiting = results[0].data;
    const mine = results[1];
    if (!waiting.length && state.offset > 0 && state.tab === "waiting") {
      state.offset = Math.max(0, state.offset - PAGE); // the page emptied (tickets were claimed): step back
      refreshQueue();
      return;
    }
    const total = results[0].headers.get("X-Total-Count"); // exact, when the server counts
    state.counts = total !== null
      ? { waiting: Number(total), exact: true, mine: mine.length }
      : { waiting: offset + Math.min(waiting.length, PAGE), exact: waiting.length <= PAGE, mine: mine.length };
    state.rows = state.tab === "waiting" ? waiting.slice(0, PAGE) : state.tab === "mine" ? mine : results[2];
    state.hasNext = state.tab === "waiting" && waiting.length > PAGE;
    const sample = waiting[0] || mine[0];
    if (sample) state.clockOffset = sample.created_at + sample.waiting_s - Date.now() / 1000;
    renderQueue();
  }, QUEUE_GAP_MS);

  function renderQueue() {
    $("count-waiting").textContent = state.counts.waiting === null ? "" : state.counts.waiting + (state.counts.exact ? "" : "+");
    $("count-mine").textContent = state.counts.mine === null ? "" : String(state.counts.mine);
    document.querySelectorAll(".queue-head .tab").forEach(function (tab) {
      const active = tab.dataset.tab === state.tab;
      tab.classList.toggle("active", active);
      tab.setAttribute("aria-selected", active ? "true" : "false");
    });
    $("filters").hidden = state.tab !== "waiting";
    renderRows($("queue"), state.rows.map(function (row) {
      // waiting_s left out: it changes on every read, and the ticker keeps it current from created_at
      const data = { row: Object.assign({}, row, { waiting_s: null }), selected: row.id === state.selected, unread: state.unread.has(row.id) };
      return { key: row.id, data: data };
    }));
    $("queue-empty").hidden = state.rows.length > 0;
    const paged = state.tab === "waiting" && (state.offset > 0 || state.hasNext);
    $("queue-pages").hidden = !paged;
    if (paged) {
      const last = state.offset + state.rows.length;
      $("page-label").textContent = (state.offset + 1) + "–" + last + (state.counts.exact ? " of " + state.counts.waiting : "");
      $("page-prev").disabled = state.offset === 0;
      $("page-next").disabled = !state.hasNext;
    }
    tick();
  }

  const renderRows = keyedRenderer(function (data) { return queueRow(data.row, data.selected, data.unread); });

  function queueRow(row, selected, unread) {
    const flags = [];
    if (row.first_response_breached) flags.push(el("span", { class: "badge danger breach", title: "first-response target passed" }, "overdue"));
    if (unread) flags.push(el("span", { class: "dot", title: "new customer message" }));
    const who = row.status === "claimed"
      ? el("span", { class: "assignee" }, row.assignee === me.username ? "you" : agentName(row.assignee))
      : null;
    return el(
      "li",
      {
        class: "qrow" + (selected ? " selected" : "") + (row.status === "claimed" ? " claimed" : ""),
        dataset: { id: row.id, conversation: row.conversation_id, status: row.status, assignee: row.assignee || "" },
        tabindex: "0",
        role: "button",
        "aria-current": selected ? "true" : null,
        onclick: function () { openTicket(row.id); },
        onkeydown: function (e) { if (e.key === "Enter") openTicket(row.id); },
      },
      el("div", { class: "qline" },
        priorityBadge(row.priority),
        el("span", { class: "qname" }, customerLabel(row.customer_name, row.conversation_id)),
        row.vip ? el("span", { class: "badge vip", title: "VIP customer" }, "VIP") : null,
        flags,
        el("span", { class: "wait", dataset: { since: String(row.created_at) }, title: "waiting since " + fullTime(row.created_at) })),
      el("div", { class: "qline small" },
        el("span", { class: "badge channel" }, CHANNELS[row.channel] || row.channel),
        el("span", { class: "badge lang" }, row.language),
        row.team ? el("span", { class: "badge team" }, row.team) : null,
        el("span", { class: "muted reason" }, reasonLabel(row.reason)),
        who),
      row.last_message ? el("div", { class: "qlast" }, row.last_message) : null
    );
  }

  function tick() {
    const now = Date.now() / 1000 + state.clockOffset; // the server's clock
    document.querySelectorAll("#queue .wait").forEach(function (node) {
      node.textContent = duration(now - Number(node.dataset.since));
    });
  }

  // ------------------------------------------------------------------ the ticket
  function openTicket(id) {
    if (state.selected && state.selected !== id) state.drafts.set(state.selected, draft());
    state.selected = id;
    state.view = null;
    showLoading(id);
    state.suggestionsFor = null;
    state.unread.delete(id);
    $("transfer-form").hidden = true;
    const saved = state.drafts.get(id) || { text: "", quick: "" };
    $("composer-text").value = saved.text;
    $("composer-quick").value = saved.quick;
    $("suggestion-list").replaceChildren();
    $("suggestions-note").textContent = "";
    saveUrl();
    renderQueue();
    refreshTicket();
  }

  /** Until the ticket is read, nothing of the previous one stays actionable (a quick click would act on
   * the newly selected ticket while the old one is on screen). */
  function showLoading(id) {
    const panel = $("ticket");
    if (panel.dataset.id === id) return;
    panel.dataset.id = id;
    panel.dataset.status = "loading";
    panel.dataset.assignee = "";
    panel.classList.add("loading");
    ["btn-claim", "btn-release", "btn-transfer", "btn-resolve", "btn-send", "mode-reply", "composer-text",
      "composer-quick", "canned"].forEach(function (name) { $(name).disabled = true; });
  }

  function draft() {
    return { text: $("composer-text").value, quick: $("composer-quick").value };
  }

  const refreshTicket = coalesced(async function () {
    const id = state.selected;
    if (!id) return;
    let view;
    try {
      view = await api("GET", "/api/agent/tickets/" + id);
    } catch (e) {
      if (e.status === 404 && state.selected === id) {
        state.selected = null;
        saveUrl();
        $("ticket").hidden = true;
        $("placeholder").hidden = false;
        $("context").replaceChildren();
      }
      throw e;
    }
    if (state.selected !== id) return;
    state.view = view;
    renderTicket();
    const latest = latestCustomerText(view.ticket);
    if (latest !== state.suggestionsFor) {
      state.suggestionsFor = latest;
      loadSuggestions(id);
    }
  }, 0);

  function latestCustomerText(ticket) {
    for (let i = ticket.transcript.length - 1; i >= 0; i--) {
      const line = ticket.transcript[i];
      if (line.sender === "customer" && line.text) return line.text;
    }
    return "";
  }

  function permissions(t) {
    const mine = t.status === "claimed" && t.assignee === me.username;
    const admin = me.role === "admin";
    const manage = t.status === "claimed" && (mine || admin);
    return {
      mine: mine,
      claim: t.status === "waiting" && (!t.team || admin || me.teams.indexOf(t.team) !== -1),
      release: manage,
      transfer: manage,
      resolve: manage,
      reply: mine,
      retry: manage || (t.status === "resolved" && (admin || t.resolved_by === me.username)),
    };
  }

  function renderTicket() {
    const view = state.view;
    const t = view.ticket;
    const can = permissions(t);
    const panel = $("ticket");
    const changed = panel.dataset.id !== t.id || panel.dataset.status !== t.status;
    $("placeholder").hidden = true;
    panel.hidden = false;
    panel.classList.remove("loading");
    $("ticket").dataset.id = t.id;
    $("ticket").dataset.status = t.status;
    $("ticket").dataset.assignee = t.assignee || "";
    $("t-customer").textContent = customerLabel(t.customer.name, t.conversation_id);
    fill($("t-meta"),
      priorityBadge(t.priority),
      el("span", { class: "badge channel" }, CHANNELS[t.channel] || t.channel),
      el("span", { class: "badge lang" }, t.language),
      t.team ? el("span", { class: "badge team" }, "team " + t.team) : null,
      el("span", { class: "badge status " + t.status }, t.status === "claimed" ? "claimed by " + (t.assignee === me.username ? "you" : agentName(t.assignee)) : t.status),
      view.first_response_breached ? el("span", { class: "badge danger" }, "first response overdue") : null,
      el("span", { class: "muted" }, reasonLabel(t.reason))
    );
    $("btn-claim").disabled = !can.claim;
    $("btn-claim").hidden = t.status !== "waiting";
    $("btn-claim").title = t.status === "waiting" && !can.claim ? "routed to team " + t.team : "";
    $("btn-release").hidden = $("btn-transfer").hidden = $("btn-resolve").hidden = t.status !== "claimed";
    $("btn-release").disabled = !can.release;
    $("btn-transfer").disabled = !can.transfer;
    $("btn-resolve").disabled = !can.resolve;
    if (changed) resetResolve(); // a live update in between keeps a pending "Confirm"
    renderBanner(t, can);
    renderTranscript(view, can);
    renderComposer(t, can);
    renderContext(view);
  }

  function renderBanner(t, can) {
    const banner = $("t-banner");
    let text = null;
    let kind = "info";
    if (t.status === "waiting") {
      text = "Waiting for an agent." + (can.claim ? " Claim it to reply." : " It is routed to team " + t.team + ".");
    } else if (t.status === "claimed" && !can.mine) {
      kind = "warn";
      text = "Claimed by " + agentName(t.assignee) + (t.claimed_at ? " at " + clock(t.claimed_at) : "") +
        ". Only they can reply; you can read the chat and add internal notes" + (can.release ? ", release, transfer or resolve it (admin)." : ".");
    } else if (t.status === "resolved") {
      text = "Resolved" + (t.resolved_by ? " by " + agentName(t.resolved_by) : "") + (t.resolved_at ? " at " + clock(t.resolved_at) : "") +
        ". The bot answers this customer again.";
    }
    banner.hidden = text === null;
    banner.className = "banner " + kind;
    banner.textContent = text || "";
  }

  function renderTranscript(view, can) {
    const list = $("transcript");
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    const items = view.ticket.transcript.map(function (line, i) {
      const key = line.id || line.message_id || "line" + i + ":" + line.timestamp;
      return { at: line.timestamp, key: key, data: { line: line, retry: can.retry } };
    });
    view.notes.forEach(function (note) { items.push({ at: note.created_at, key: "note:" + note.id, data: { note: note } }); });
    items.sort(function (a, b) { return a.at - b.at; });
    if (list.dataset.ticket !== view.ticket.id) list.replaceChildren();
    renderLines(list, items);
    if (atBottom || list.dataset.ticket !== view.ticket.id) list.scrollTop = list.scrollHeight;
    list.dataset.ticket = view.ticket.id;
  }

  const renderLines = keyedRenderer(function (data) {
    return data.note ? noteItem(data.note) : lineItem(data.line, { retry: data.retry });
  });

  function lineItem(line, can) {
    const sender = line.sender;
    const who = sender === "customer" ? "Customer" : sender === "agent" ? agentName(line.author || "agent") : sender === "bot" ? (line.author ? "Bot (resolved by " + agentName(line.author) + ")" : "Bot") : sender;
    const extras = [];
    if (sender === "customer" && line.intent) {
      extras.push(el("span", { class: "intent", title: line.read_over ? "NLU intent and confidence; the classifier said " + line.read_over + ", read as a request for a person" + readFrom(line) : "NLU intent and confidence" },
        line.intent + (line.confidence !== null && line.confidence !== undefined ? " " + Math.round(line.confidence * 100) + "%" : "") +
        (line.read_over ? " (over " + line.read_over + ")" : "")));
    }
    const choices = (line.quick_replies || []).slice();
    const payload = line.payload || {};
    (payload.buttons || []).forEach(function (b) { choices.push(b.title || b.payload || "?"); });
    (payload.quick_replies || []).forEach(function (q) { choices.push(q.title || q.payload || String(q)); });
    return el("li", { class: "msg " + sender, dataset: { lineId: line.id || "", sender: sender } },
      el("div", { class: "msg-head" },
        el("span", { class: "msg-who" }, who),
        el("time", { datetime: new Date(line.timestamp * 1000).toISOString(), title: fullTime(line.timestamp) }, clock(line.timestamp)),
        extras),
      el("div", { class: "msg-text" }, line.text || ""),
      choices.length ? el("div", { class: "choices" }, choices.map(function (c) { return el("span", { class: "chip" }, c); })) : null,
      line.delivery ? deliveryItem(line, can) : null);
  }

  function deliveryItem(line, can) {
    const d = line.delivery;
    const parts = [el("span", { class: "delivery-status " + d.status }, d.status === "sent" ? "✓ sent" : d.status === "failed" ? "✗ not delivered" : "sending…")];
    if (d.status === "failed") {
      if (d.error) parts.push(el("span", { class: "delivery-error" }, d.error));
      if (d.attempts > 1) parts.push(el("span", { class: "muted" }, d.attempts + " attempts"));
      parts.push(el("button", {
        type: "button", class: "btn small retry", disabled: !can.retry,
        onclick: function (e) {
          act(e.currentTarget, function () {
            return api("POST", "/api/agent/tickets/" + state.selected + "/replies/" + line.id + "/retry").then(function (l) {
              dmdesk.toast(l.delivery.status === "sent" ? "Delivered" : "Still not delivered: " + (l.delivery.error || ""), l.delivery.status === "sent" ? "ok" : "error");
            });
          });
        },
      }, "Retry"));
    }
    return el("div", { class: "delivery" }, parts);
  }

  function noteItem(note) {
    return el("li", { class: "msg note", dataset: { noteId: note.id } },
      el("div", { class: "msg-head" },
        el("span", { class: "msg-who" }, "Internal note · " + agentName(note.author)),
        el("time", { title: fullTime(note.created_at) }, clock(note.created_at))),
      el("div", { class: "msg-text" }, note.text));
  }

  // ------------------------------------------------------------------ the reply box
  function renderComposer(t, can) {
    if (!can.reply && state.mode === "reply" && t.status !== "waiting") state.mode = "note";
    if (can.reply && state.lastMine !== t.id) { state.mode = "reply"; state.lastMine = t.id; }
    const replying = state.mode === "reply";
    const composer = $("composer");
    composer.dataset.mode = state.mode;
    $("mode-reply").classList.toggle("active", replying);
    $("mode-note").classList.toggle("active", !replying);
    $("mode-reply").disabled = !can.reply;
    $("mode-reply").title = can.reply ? "" : "only the agent who claimed the ticket can reply";
    const enabled = replying ? can.reply : true;
    $("composer-text").disabled = !enabled;
    $("composer-quick").hidden = !replying;
    $("composer-quick").disabled = !can.reply;
    $("canned").hidden = !replying;
    $("canned").disabled = !can.reply;
    $("btn-send").disabled = !enabled;
    $("btn-send").textContent = replying ? "Send" : "Add note";
    $("composer-text").placeholder = replying ? "Write a reply… (Ctrl+Enter sends)" : "Internal note: agents only, never sent to the customer";
    let hint = "";
    if (replying && !can.reply) {
      hint = t.status === "waiting" ? "Claim the ticket to reply." : t.status === "claimed" ? "Only " + agentName(t.assignee) + " can reply." : "The ticket is resolved.";
    } else if (replying) {
      hint = "Sent on " + (CHANNELS[t.channel] || t.channel) + " as you.";
    }
    $("composer-hint").textContent = hint;
    renderCanned(t.language);
    document.querySelectorAll("#suggestion-list .use").forEach(function (b) { b.disabled = !can.reply; });
  }

  function renderCanned(language) {
    const select = $("canned");
    const groups = new Map();
    state.canned.forEach(function (reply) {
      if (!groups.has(reply.language)) groups.set(reply.language, []);
      groups.get(reply.language).push(reply);
    });
    const languages = Array.from(groups.keys()).sort(function (a, b) {
      return (a === language ? -1 : 0) - (b === language ? -1 : 0) || a.localeCompare(b);
    });
    const options = [el("option", { value: "" }, state.canned.length ? "Canned reply…" : "No canned replies")];
    languages.forEach(function (lang) {
      options.push(el("optgroup", { label: lang + (lang === language ? " (customer's language)" : "") },
        groups.get(lang).map(function (r) { return el("option", { value: r.id }, r.title); })));
    });
    fill(select, options);
  }

  function insertText(text) {
    const box = $("composer-text");
    if (box.disabled) return;
    if (state.mode !== "reply") setMode("reply");
    box.value = box.value.trim() ? box.value.replace(/\s*$/, "\n") + text : text;
    box.focus();
    box.setSelectionRange(box.value.length, box.value.length);
  }

  function setMode(mode) {
    state.mode = mode;
    if (state.view) renderComposer(state.view.ticket, permissions(state.view.ticket));
  }

  function quickReplies() {
    return $("composer-quick").value.split(",").map(function (q) { return q.trim(); }).filter(Boolean);
  }

  async function submitComposer(event) {
    event.preventDefault();
    const id = state.selected;
    const text = $("composer-text").value.trim();
    const button = $("btn-send");
    if (!id || !text || button.disabled) return; // disabled while a send is on its way (Ctrl+Enter twice)
    if (state.mode === "note") {
      const note = await act(button, function () { return api("POST", "/api/agent/tickets/" + id + "/notes", { text: text }); }, "Note added");
      if (note) $("composer-text").value = "";
      return;
    }
    const quick = quickReplies();
    const tooLong = quick.filter(function (q) { return q.length > 20; });
    if (quick.length > 13 || tooLong.length) {
      dmdesk.toast(quick.length > 13 ? "At most 13 quick replies." : "Quick replies are 20 characters at most: " + tooLong[0], "error");
      return;
    }
    const line = await act(button, function () {
      return api("POST", "/api/agent/tickets/" + id + "/replies", { text: text, quick_replies: quick });
    });
    if (line) {
      $("composer-text").value = "";
      $("composer-quick").value = "";
      state.drafts.delete(id);
      if (line.delivery && line.delivery.status === "failed") dmdesk.toast("Not delivered: " + (line.delivery.error || "unknown error"), "error");
    }
  }

  // ------------------------------------------------------------------ suggestions, canned replies
  let suggestionRequest = 0;
  async function loadSuggestions(id) {
    const mine = ++suggestionRequest; // only the newest request's answer is shown
    $("suggestions-note").textContent = "loading…";
    let result;
    try {
      result = await api("GET", "/api/agent/tickets/" + id + "/suggestions");
    } catch (e) {
      if (mine === suggestionRequest) $("suggestions-note").textContent = "unavailable (" + e.message + ")";
      return;
    }
    if (state.selected !== id || mine !== suggestionRequest) return;
    const can = state.view ? permissions(state.view.ticket) : { reply: false };
    $("suggestions-note").textContent = result.suggestions.length
      ? "for “" + (result.query || "") + "”" + (result.confidence !== null ? " · fit " + Math.round(result.confidence * 100) + "%" : "")
      : result.query ? "none for the latest message" : "no customer message yet";
    fill($("suggestion-list"), result.suggestions.map(function (s) {
      return el("li", { class: "suggestion", dataset: { entry: s.entry_id } },
        el("div", { class: "suggestion-head" },
          el("strong", {}, s.question),
          el("span", { class: "badge lang" }, s.language),
          el("span", { class: "muted score", title: "retrieval score (z)" }, s.score.toFixed(2)),
          el("button", { type: "button", class: "btn small use", disabled: !can.reply, onclick: function () { insertText(s.answer); } }, "Use")),
        el("div", { class: "suggestion-text" }, s.answer));
    }));
  }

  async function loadCanned() {
    state.canned = await api("GET", "/api/agent/canned-replies");
    if (state.view) renderCanned(state.view.ticket.language);
  }

  // ------------------------------------------------------------------ context panel
  function section(title, body) {
    return el("section", { class: "ctx" }, el("h3", {}, title), body);
  }

  function facts(pairs) {
    return el("dl", { class: "facts" }, pairs.filter(function (p) { return p[1] !== null && p[1] !== undefined && p[1] !== ""; }).map(function (p) {
      return [el("dt", {}, p[0]), el("dd", {}, p[1])];
    }));
  }

  function renderContext(view) {
    const t = view.ticket;
    const profile = Object.keys(t.customer.extra || {}).filter(function (k) { return k !== "name"; }).map(function (k) {
      const v = t.customer.extra[k];
      return [k.replace(/_/g, " "), typeof v === "object" ? JSON.stringify(v) : String(v)];
    });
    const parts = [
      section("Customer", facts([
        ["name", t.customer.name || "unknown"],
        ["id", t.customer.id],
        ["channel", CHANNELS[t.channel] || t.channel],
        ["language", t.language],
      ].concat(profile))),
      section("Escalation", facts([
        ["reason", reasonLabel(t.reason) + (t.matched ? ": " + t.matched : "")],
        ["rule", t.rule],
        ["VIP", t.vip ? "yes" : null],
        ["priority", "P" + t.priority],
        ["opened", fullTime(t.created_at)],
        ["first reply due", fullTime(view.first_response_due_at) + (view.first_response_breached ? " (overdue)" : "")],
        ["team", t.team],
        ["reopened", t.reopened_at ? fullTime(t.reopened_at) : null],
      ])),
    ];
    if (t.intents.length) {
      parts.push(section("Intents", el("table", { class: "intents" },
        el("tbody", {}, t.intents.map(function (i) {
          const pct = i.confidence === null || i.confidence === undefined ? null : Math.round(i.confidence * 100);
          return el("tr", {},
            el("td", { class: "itext" }, i.text || ""),
            el("td", { title: i.read_over ? "the classifier said " + i.read_over + "; read as a request for a person" + readFrom(i) : null },
              (i.intent || "?") + (i.read_over ? " (over " + i.read_over + ")" : "")),
            el("td", { class: "conf" }, pct === null ? "" : [el("span", { class: "bar" }, el("span", { class: "fill", "data-pct": String(pct) })), " " + pct + "%"]));
        })))));
    }
    if (t.entities.length || Object.keys(t.slots || {}).length) {
      parts.push(section("Entities", el("ul", { class: "plain" },
        t.entities.map(function (e) { return el("li", {}, el("span", { class: "badge" }, e.entity), " ", String(e.value)); }),
        Object.keys(t.slots || {}).map(function (k) { return el("li", {}, el("span", { class: "badge accent", title: "slot" }, k), " ", String(t.slots[k])); }))));
    }
    if (t.faq_attempts.length) {
      parts.push(section("FAQ answers tried", el("ol", { class: "plain faq" }, t.faq_attempts.map(function (a) {
        return el("li", {},
          el("div", {}, el("span", { class: "badge " + (a.outcome === "answer" ? "ok" : a.outcome === "none" ? "danger" : "warn") }, a.outcome),
            a.reason ? [" ", el("span", { class: "muted reason", dataset: { reason: a.reason } }, dmdesk.reasonLabel(a.reason))] : null,
            " ", el("span", { class: "itext" }, "“" + a.text + "”"),
            a.confidence !== null && a.confidence !== undefined ? el("span", { class: "muted" }, " fit " + Math.round(a.confidence * 100) + "%") : null),
          el("ul", { class: "plain candidates" }, (a.candidates || []).map(function (c) {
            return el("li", {}, el("span", { class: "mono" }, String(c.entry_id)), " ", el("span", { class: "muted" }, Number(c.score).toFixed(2)));
          })));
      }))));
    }
    if ((t.context || []).length) {
      parts.push(section("Context", el("ul", { class: "plain" }, t.context.map(function (c) {
        return el("li", {}, el("span", { class: "badge" }, String(c.type || c.kind || "context")), " ", Object.keys(c).filter(function (k) { return k !== "type" && k !== "kind"; }).map(function (k) { return k + ": " + (typeof c[k] === "object" ? JSON.stringify(c[k]) : c[k]); }).join(" · "));
      }))));
    }
    parts.push(section("Earlier tickets", view.earlier_tickets.length
      ? el("ul", { class: "plain earlier" }, view.earlier_tickets.map(function (e) {
        return el("li", {}, el("a", { href: "?ticket=" + e.id, dataset: { id: e.id }, onclick: function (ev) { ev.preventDefault(); openTicket(e.id); } }, clock(e.created_at)),
          " ", el("span", { class: "badge status " + e.status }, e.status), " ", el("span", { class: "muted" }, reasonLabel(e.reason)),
          e.last_message ? el("div", { class: "qlast" }, e.last_message) : null);
      }))
      : el("p", { class: "muted" }, "none")));
    fill($("context"), parts);
    document.querySelectorAll("#context .fill").forEach(function (f) { f.style.width = f.dataset.pct + "%"; });
  }

  // ------------------------------------------------------------------ actions
  function onClaim(e) {
    act(e.currentTarget, function () { return api("POST", "/api/agent/tickets/" + state.selected + "/claim"); }, "Claimed").then(function (r) {
      if (r) { state.mode = "reply"; $("composer-text").focus(); }
    });
  }

  function onRelease(e) {
    act(e.currentTarget, function () { return api("POST", "/api/agent/tickets/" + state.selected + "/release"); }, "Back in the queue");
  }

  let resolveTimer = null;
  function resetResolve() {
    clearTimeout(resolveTimer);
    const b = $("btn-resolve");
    b.dataset.confirm = "";
    b.textContent = "Resolve";
    b.classList.remove("danger");
  }

  function onResolve(e) {
    const b = e.currentTarget;
    if (!b.dataset.confirm) {
      b.dataset.confirm = "1";
      b.textContent = "Confirm: hand back to the bot";
      b.classList.add("danger");
      resolveTimer = setTimeout(resetResolve, 5000);
      return;
    }
    resetResolve();
    act(b, function () { return api("POST", "/api/agent/tickets/" + state.selected + "/resolve"); }, "Resolved: the bot has the conversation again");
  }

  function openTransfer() {
    const t = state.view.ticket;
    const select = $("transfer-to");
    const agents = config.agents.filter(function (a) { return a.username !== t.assignee; });
    fill(select,
      el("option", { value: "" }, "Choose an agent or a team…"),
      el("optgroup", { label: "Agents" }, agents.map(function (a) {
        return el("option", { value: "agent:" + a.username }, a.display_name + " (" + a.username + ")" + (a.teams.length ? " · " + a.teams.join(", ") : ""));
      })),
      config.teams.length ? el("optgroup", { label: "Teams (back to the queue)" }, config.teams.map(function (team) {
        return el("option", { value: "team:" + team }, team);
      })) : null);
    $("transfer-note").value = "";
    $("transfer-form").hidden = false;
    select.focus();
  }

  async function submitTransfer(event) {
    event.preventDefault();
    const target = $("transfer-to").value;
    if (!target) return;
    const body = target.indexOf("agent:") === 0 ? { to_agent: target.slice(6) } : { to_team: target.slice(5) };
    const note = $("transfer-note").value.trim();
    if (note) body.note = note;
    const done = await act($("transfer-submit"), function () {
      return api("POST", "/api/agent/tickets/" + state.selected + "/transfer", body);
    }, "Transferred");
    if (done) $("transfer-form").hidden = true;
  }

  // ------------------------------------------------------------------ live events
  function setLive(kind, text) {
    const node = $("live");
    node.dataset.state = kind;
    node.textContent = text;
  }

  function onEvent(type, event) {
    if (type === "ticket.claimed" || type === "ticket.transferred" || type === "ticket.resolved") {
      // shown at once, before the queue reload: the ticket is not waiting any more
      const row = document.querySelector('#queue .qrow[data-id="' + event.ticket_id + '"]');
      if (row && state.tab === "waiting" && (type !== "ticket.transferred" || event.data.to_agent)) row.remove();
    }
    if (type === "ticket.customer_message" && event.ticket_id !== state.selected) state.unread.add(event.ticket_id);
    if (type === "ticket.created") dmdesk.toast("New ticket: P" + event.data.priority + " " + reasonLabel(event.data.reason) + " (" + (CHANNELS[event.data.channel] || event.data.channel) + ")");
    if (type === "ticket.transferred" && event.data.to_agent === me.username && event.actor !== me.username) dmdesk.toast(agentName(event.actor) + " transferred a ticket to you");
    if (QUEUE_EVENTS.has(type)) refreshQueue();
    if (event.ticket_id === state.selected) refreshTicket();
  }

  let source = null;
  let backoff = 1000;

  let retryTimer = null;
  function connect() {
    clearTimeout(retryTimer);
    if (source) source.close();
    setLive("connecting", state.everReady ? "reconnecting…" : "connecting…");
    source = new EventSource("/api/agent/events");
    source.addEventListener("ready", function () {
      backoff = 1000;
      setLive("live", "live");
      if (state.everReady) {
        // pub/sub has no replay: whatever happened while disconnected is read again
        refreshQueue();
        refreshTicket();
      }
      state.everReady = true;
    });
    EVENT_TYPES.forEach(function (type) {
      source.addEventListener(type, function (message) {
        try {
          onEvent(type, JSON.parse(message.data));
        } catch (e) {
          console.warn("bad event", type, e);
        }
      });
    });
    source.addEventListener("session_ended", function () {
      source.close();
      dmdesk.logout();
    });
    source.onerror = function () {
      if (source.readyState === EventSource.CONNECTING) {
        setLive("connecting", "reconnecting…");
        return; // the browser retries by itself
      }
      setLive("down", "offline: retrying…");
      source.close();
      retryTimer = setTimeout(async function () {
        await api("GET", "/api/agent/me").catch(function () {}); // a 401 goes to the login page
        backoff = Math.min(backoff * 2, 30000);
        connect();
      }, backoff);
    };
  }

  // ------------------------------------------------------------------ wiring
  document.querySelectorAll(".queue-head .tab").forEach(function (tab) {
    tab.addEventListener("click", function () {
      state.tab = tab.dataset.tab;
      state.offset = 0;
      saveUrl();
      refreshQueue();
    });
  });
  $("filters").addEventListener("change", function (e) {
    state.filters[e.target.name] = e.target.value;
    state.offset = 0;
    saveUrl();
    refreshQueue();
  });
  $("page-prev").addEventListener("click", function () {
    state.offset = Math.max(0, state.offset - PAGE);
    refreshQueue();
  });
  $("page-next").addEventListener("click", function () {
    state.offset += PAGE;
    refreshQueue();
  });
  $("live").addEventListener("click", connect);
  $("btn-claim").addEventListener("click", onClaim);
  $("btn-release").addEventListener("click", onRelease);
  $("btn-resolve").addEventListener("click", onResolve);
  $("btn-transfer").addEventListener("click", openTransfer);
  $("transfer-cancel").addEventListener("click", function () { $("transfer-form").hidden = true; });
  $("transfer-form").addEventListener("submit", submitTransfer);
  $("composer").addEventListener("submit", submitComposer);
  $("composer-text").addEventListener("keydown", function (e) {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) submitComposer(e);
  });
  $("composer-quick").addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !(e.ctrlKey || e.metaKey)) e.preventDefault(); // Enter alone never sends
  });
  $("mode-reply").addEventListener("click", function () { setMode("reply"); });
  $("mode-note").addEventListener("click", function () { setMode("note"); });
  $("canned").addEventListener("change", function (e) {
    const reply = state.canned.find(function (r) { return r.id === e.target.value; });
    e.target.value = "";
    if (reply) insertText(reply.text);
  });
  setInterval(tick, 1000);
  setInterval(refreshQueue, 30000); // waiting times cross the first-response target without an event

  loadUrl();
  connect();
  refreshQueue();
  if (state.selected) openTicket(state.selected);
  loadCanned().catch(function (e) { dmdesk.toast("Canned replies: " + e.message, "error"); });
})();
