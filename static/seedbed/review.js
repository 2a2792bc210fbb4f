// The review page: keys, inline editing with a visible diff, ranking, relabelling, turn flags
// and truncation (conversations), tool-call argument edits, time on item.
// No inline scripts and no innerHTML with user text: every string goes in as textContent.
(() => {
  "use strict";
  let shownAt = performance.now();
  let selected = -1; // index of the selected message

  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
  const form = () => $("#review-form");
  const turns = () => $$("#transcript .turn");

  function original() {
    const node = document.getElementById("original-messages");
    return node ? JSON.parse(node.textContent) : [];
  }

  function select(i) {
    const all = turns();
    if (!all.length) return;
    selected = Math.max(0, Math.min(all.length - 1, i));
    all.forEach((t, k) => t.classList.toggle("selected", k === selected));
    all[selected].focus({ preventScroll: false });
  }

  function lastAssistant() {
    const all = turns();
    for (let i = all.length - 1; i >= 0; i--) {
      if (all[i].classList.contains("turn-assistant")) return i;
    }
    return all.length - 1;
  }

  // Word-level diff (LCS), rendered with <del>/<ins> built from text nodes only.
  function diff(before, after) {
    const a = before.split(/(\s+)/), b = after.split(/(\s+)/);
    const n = a.length, m = b.length;
    if (n * m > 4_000_000) return [["del", before], ["ins", after]];
    const dp = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
    for (let i = n - 1; i >= 0; i--)
      for (let j = m - 1; j >= 0; j--)
        dp[i][j] = a[i] === b[j] ? dp[i + 1][j + 1] + 1 : Math.max(dp[i + 1][j], dp[i][j + 1]);
    const out = [];
    let i = 0, j = 0;
    const push = (op, s) => {
      if (out.length && out[out.length - 1][0] === op) out[out.length - 1][1] += s;
      else out.push([op, s]);
    };
    while (i < n && j < m) {
      if (a[i] === b[j]) { push("same", a[i]); i++; j++; }
      else if (dp[i + 1][j] >= dp[i][j + 1]) { push("del", a[i]); i++; }
      else { push("ins", b[j]); j++; }
    }
    while (i < n) push("del", a[i++]);
    while (j < m) push("ins", b[j++]);
    return out;
  }

  function showDiff(turn, before, after) {
    const box = $(".diff", turn);
    box.replaceChildren();
    if (before === after) { box.hidden = true; return; }
    const label = document.createElement("div");
    label.className = "muted small";
    label.textContent = "Your edit:";
    box.appendChild(label);
    for (const [op, text] of diff(before, after)) {
      const el = document.createElement(op === "same" ? "span" : op);
      el.textContent = text;
      box.appendChild(el);
    }
    box.hidden = false;
  }

  function collectEdits() {
    const messages = original();
    let changed = false;
    turns().forEach((turn, i) => {
      const box = $(".edit-box", turn);
      if (box && box.dataset.edited === "1" && messages[i]) {
        if (messages[i].content !== box.value) changed = true;
        messages[i] = { ...messages[i], content: box.value };
      }
    });
    return changed ? JSON.stringify(messages) : "";
  }

  function startEdit(i) {
    const turn = turns()[i];
    if (!turn) return;
    const box = $(".edit-box", turn);
    box.hidden = false;
    box.focus();
  }

  function finishEdit(box, keep) {
    const turn = box.closest(".turn");
    const i = Number(turn.dataset.index);
    const before = (original()[i] || {}).content || "";
    if (!keep) box.value = box.dataset.edited === "1" ? box.value : before;
    box.dataset.edited = box.value !== before ? "1" : "";
    box.hidden = true;
    showDiff(turn, before, box.value);
    turn.focus();
  }

  // Tool calls: `c` opens the selected message's first call (or the first call on the page)
  // as JSON; Ctrl+Enter keeps it when it parses, Esc puts it back. The server checks it
  // against the tool's schema when the review is submitted.
  function startCallEdit(i) {
    const turn = turns()[i];
    const block = (turn && $(".tool-call", turn)) || $("#transcript .tool-call");
    if (!block) return;
    const box = $(".call-edit", block);
    box.hidden = false;
    box.focus();
  }

  function finishCallEdit(box, keep) {
    const block = box.closest(".tool-call");
    const shown = $(".call-args", block);
    const error = $(".call-error", block);
    if (keep) {
      try {
        JSON.parse(box.value);
      } catch (err) {
        error.textContent = "Not valid JSON: " + err.message;
        error.hidden = false;
        return;
      }
      block.dataset.edited = "1";
      shown.textContent = box.value;
    } else {
      box.value = shown.textContent;
    }
    error.hidden = true;
    box.hidden = true;
    box.closest(".turn").focus();
  }

  function collectCallEdits() {
    const out = {};
    $$("#transcript .tool-call[data-edited='1']").forEach((block) => {
      const i = block.closest(".turn").dataset.index;
      let args;
      try { args = JSON.parse($(".call-edit", block).value); } catch { return; }
      (out[i] = out[i] || []).push({ id: block.dataset.callId, arguments: args });
    });
    return Object.keys(out).length ? JSON.stringify(out) : "";
  }

  // The label of a classification sample: `l` focuses its select (or text box); Enter keeps
  // the choice and Esc puts the stored label back, both handing the keys back to the page.
  function labelControl() { return document.getElementById("label-control"); }

  function labelChanged() {
    const control = labelControl(), note = document.getElementById("label-changed");
    if (control && note) note.hidden = control.value === (control.dataset.original || "");
  }

  function leaveLabel(control, keep) {
    if (!keep) control.value = control.dataset.original || "";
    labelChanged();
    control.blur();
  }

  // Conversations: a turn is a non-system message, counted from 1 (data-turn on its node).
  // Flags, turn ratings and a cut live in the page until the decision sends them.
  const turnOf = (node) => Number(node?.dataset.turn || 0);
  const at = (i) => turns()[i >= 0 ? i : lastAssistant()];

  function toggleFlag(i) {
    const turn = at(i);
    if (!turnOf(turn)) return;
    const on = !turn.classList.contains("flagged");
    turn.classList.toggle("flagged", on);
    $("[data-action=flag]", turn)?.setAttribute("aria-pressed", String(on));
    $(".flag-badge", turn).hidden = !on;
    const box = $(".flag-box", turn), reason = $(".flag-reason", turn);
    box.hidden = !on;
    if (on) reason.focus();
    else { reason.value = ""; turn.focus(); }
  }

  function leaveReason(input, keep) {
    if (!keep) input.value = "";
    input.closest(".turn").focus();
  }

  function marks() {
    const out = {};
    turns().forEach((turn) => {
      const n = turnOf(turn);
      if (!n) return;
      const mark = {};
      if (turn.classList.contains("flagged")) {
        mark.flag = true;
        const reason = $(".flag-reason", turn).value.trim();
        if (reason) mark.reason = reason;
      }
      const rating = $(".turn-rating", turn)?.value;
      if (rating) mark.rating = Number(rating);
      if (Object.keys(mark).length) out[String(n)] = mark;
    });
    return Object.keys(out).length ? JSON.stringify(out) : "";
  }

  function keepsAPair(end) {
    let user = false;
    for (const node of turns().slice(0, end + 1)) {
      user = user || node.classList.contains("turn-user");
      if (user && node.classList.contains("turn-assistant")) return true;
    }
    return false;
  }

  // The notice stands right after the turn it is about, however long the conversation.
  function say(text, turn) {
    const notice = $("#cut-notice");
    if (!notice) return;
    $(".cut-text", notice).textContent = text;
    $("[data-action=uncut]", notice).hidden = !form()?.elements.truncate_after?.value;
    if (turn) turn.after(notice);
    notice.hidden = !text;
  }

  function setCut(n) {
    const f = form(), all = turns();
    const end = all.findIndex((node) => turnOf(node) === n);
    const last = Math.max(0, ...all.map(turnOf));
    if (!f || !f.elements.truncate_after) return;
    f.elements.truncate_after.value = n && n < last ? String(n) : "";
    all.forEach((node, k) => node.classList.toggle("cut", Boolean(n) && n < last && k > end));
    const dropped = all.filter((node) => node.classList.contains("cut")).length;
    if (!dropped) { say(""); return; }
    const endsOnUser = all[end].classList.contains("turn-user");
    say(`Cut after turn ${n}: the ${dropped} message${dropped > 1 ? "s" : ""} after it (turns ${n + 1}–${last}) go when you decide.` +
      (endsOnUser ? " It now ends on a user turn: SFT exports leave such a conversation out." : ""), all[end]);
  }

  function askCut(i) {
    const turn = at(i);
    const n = turnOf(turn);
    if (!n) return;
    const last = Math.max(0, ...turns().map(turnOf));
    if (n >= last) { setCut(0); return; } // cutting after the last turn keeps every turn
    if (!keepsAPair(Number(turn.dataset.index))) {
      say(`Cutting after turn ${n} would leave no user turn followed by an assistant turn; pick a later turn.`, turn);
      return;
    }
    const dialog = $("#cut-confirm");
    $(".cut-question", dialog).textContent = `Keep turns 1–${n} and cut turns ${n + 1}–${last}? Undo (u) after your decision brings them back.`;
    dialog.returnValue = "";
    dialog.onclose = () => { if (dialog.returnValue === "cut") setCut(n); turn.focus(); };
    dialog.showModal();
  }

  function ranking() {
    return $$("#ranking li").map((li) => li.dataset.id).join(",");
  }

  function submit(decision) {
    const f = form();
    if (!f) return;
    f.elements.decision.value = decision;
    f.elements.messages.value = collectEdits();
    f.elements.ranking.value = ranking();
    if (f.elements.tool_calls) f.elements.tool_calls.value = collectCallEdits();
    if (f.elements.turns) f.elements.turns.value = marks();
    // Rounded up: the browser's coarse clock can read the same instant for a very fast key.
    f.elements.time_spent_ms.value = String(Math.max(1, Math.ceil(performance.now() - shownAt)));
    f.requestSubmit();
  }

  function rate(n) {
    const f = form();
    if (!f) return;
    f.elements.rating.value = String(n);
    $$(".rating button").forEach((b) => b.classList.toggle("active", b.dataset.rating === String(n)));
  }

  function moveCandidate(delta) {
    const list = $("#ranking");
    const current = list && (list.querySelector("li.picked") || list.querySelector("li"));
    if (!current) return;
    current.classList.add("picked");
    if (delta < 0 && current.previousElementSibling) list.insertBefore(current, current.previousElementSibling);
    if (delta > 0 && current.nextElementSibling) list.insertBefore(current.nextElementSibling, current);
    current.focus();
  }

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (target instanceof HTMLTextAreaElement && target.classList.contains("edit-box")) {
      if (event.key === "Escape") { event.preventDefault(); finishEdit(target, false); }
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); finishEdit(target, true); }
      return;
    }
    if (target instanceof HTMLTextAreaElement && target.classList.contains("call-edit")) {
      if (event.key === "Escape") { event.preventDefault(); finishCallEdit(target, false); }
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); finishCallEdit(target, true); }
      return;
    }
    if (target instanceof HTMLInputElement && target.classList.contains("flag-reason")) {
      if (event.key === "Escape" || event.key === "Enter") { event.preventDefault(); leaveReason(target, event.key === "Enter"); }
      return;
    }
    if (target instanceof HTMLSelectElement && target.classList.contains("turn-rating")) {
      if (event.key === "Escape" || event.key === "Enter") { event.preventDefault(); target.closest(".turn").focus(); }
      return;
    }
    if (target instanceof Element && target.id === "label-control") {
      if (event.key === "Escape" || event.key === "Enter") { event.preventDefault(); leaveLabel(target, event.key === "Enter"); }
      return;
    }
    if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement || event.ctrlKey || event.metaKey || event.altKey) return;
    if (!$("#item.review") || document.querySelector("dialog[open]:not(#help)")) return;
    const key = event.key;
    const act = {
      a: () => submit("accept"),
      r: () => submit("reject"),
      s: () => $("#skip-form")?.requestSubmit(),
      u: () => $("#undo-form")?.requestSubmit(),
      e: () => startEdit(selected >= 0 ? selected : lastAssistant()),
      c: () => startCallEdit(selected),
      l: () => labelControl()?.focus(),
      f: () => toggleFlag(selected),
      x: () => askCut(selected),
      j: () => select(selected + 1),
      k: () => select(selected - 1),
      "[": () => moveCandidate(-1),
      "]": () => moveCandidate(1),
      "?": () => { const d = $("#help"); if (d.open) d.close(); else d.showModal(); },
    }[key];
    if (act) { event.preventDefault(); act(); return; }
    const scale = Number($(".rating")?.dataset.scale || 0);
    const n = key === "0" ? 10 : Number(key);
    if (/^[0-9]$/.test(key) && n >= 1 && n <= scale) { event.preventDefault(); rate(n); }
  });

  document.addEventListener("click", (event) => {
    const el = event.target instanceof Element ? event.target : null;
    if (!el) return;
    const picked = el.closest("#transcript .turn");
    if (picked) { // a click selects the turn for the keys, without taking the focus
      selected = Number(picked.dataset.index);
      turns().forEach((t, k) => t.classList.toggle("selected", k === selected));
    }
    const decisionButton = el.closest("button[data-decision]");
    if (decisionButton) { event.preventDefault(); submit(decisionButton.dataset.decision); return; }
    const ratingButton = el.closest("button[data-rating]");
    if (ratingButton) { rate(Number(ratingButton.dataset.rating)); return; }
    if (el.closest("[data-action=edit]")) { startEdit(Number(el.closest(".turn").dataset.index)); return; }
    if (el.closest("[data-action=edit-call]")) { $(".call-edit", el.closest(".tool-call")).hidden = false; $(".call-edit", el.closest(".tool-call")).focus(); return; }
    if (el.closest("[data-action=help]")) { $("#help").showModal(); return; }
    if (el.closest("[data-action=flag]")) { toggleFlag(Number(el.closest(".turn").dataset.index)); return; }
    if (el.closest("[data-action=cut]")) { askCut(Number(el.closest(".turn").dataset.index)); return; }
    if (el.closest("[data-action=uncut]")) { setCut(0); return; }
    const li = el.closest("#ranking li");
    if (li) { $$("#ranking li").forEach((x) => x.classList.toggle("picked", x === li)); }
  });

  document.addEventListener("change", (event) => { if (event.target === labelControl()) labelChanged(); });
  document.addEventListener("input", (event) => { if (event.target === labelControl()) labelChanged(); });

  // Drag and drop for the ranking.
  let dragged = null;
  document.addEventListener("dragstart", (e) => { dragged = e.target.closest?.("#ranking li") || null; });
  document.addEventListener("dragover", (e) => { if (dragged && e.target.closest?.("#ranking li")) e.preventDefault(); });
  document.addEventListener("drop", (e) => {
    const over = e.target.closest?.("#ranking li");
    if (!dragged || !over || over === dragged) return;
    e.preventDefault();
    const list = over.parentElement;
    const items = Array.from(list.children);
    if (items.indexOf(dragged) < items.indexOf(over)) over.after(dragged); else over.before(dragged);
    dragged = null;
  });

  // A new item arrived: restart the clock and the selection.
  document.addEventListener("htmx:afterSettle", () => { shownAt = performance.now(); selected = -1; });
})();
