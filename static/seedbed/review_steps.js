// Agent trajectories on the review page: collapsible steps (native <details>) and the mark
// of the first wrong step (`w` on the focused step, or on the message selected with j / k;
// or the step's button). The mark lives in the form's `first_wrong_step` field until the
// decision sends it. No innerHTML: every string goes in as textContent.
(() => {
  "use strict";
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
  const field = () => $("#review-form")?.elements.first_wrong_step;

  function show(n) {
    $$("#steps .traj-step").forEach((step) => {
      const k = Number(step.dataset.step);
      step.classList.toggle("first-wrong", k === n);
      step.classList.toggle("after-wrong", n > 0 && k > n);
      $(".wrong-badge", step).hidden = k !== n;
      $(".after-badge", step).hidden = !(n > 0 && k > n);
      $("[data-action=wrong-step]", step).setAttribute("aria-pressed", String(k === n));
    });
    const total = $$("#steps .traj-step").length;
    const note = $("#wrong-note");
    if (note) {
      note.textContent = n
        ? `First wrong step: ${n} of ${total}. Steps 1–${n - 1 || 0} count as right` +
          (n < total ? `, steps ${n + 1}–${total} stay unlabelled.` : ".") +
          " Saved with your decision; w on it again takes the mark back."
        : "No step marked wrong: rate the whole trajectory, or mark the first step that goes wrong.";
    }
  }

  function mark(n) {
    const f = field();
    if (!f || !n) return;
    const next = Number(f.value) === n ? 0 : n;
    f.value = next ? String(next) : "";
    show(next);
  }

  function current() {
    const focused = document.activeElement?.closest?.("#steps .traj-step");
    if (focused) return Number(focused.dataset.step);
    const selected = $("#transcript .turn.selected[data-step]");
    return selected ? Number(selected.dataset.step) : 0;
  }

  document.addEventListener("keydown", (event) => {
    const t = event.target;
    if (event.key !== "w" || event.ctrlKey || event.metaKey || event.altKey) return;
    if (t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement) return;
    if (!field() || document.querySelector("dialog[open]")) return;
    event.preventDefault();
    const n = current();
    if (n) { mark(n); return; }
    const note = $("#wrong-note");
    if (note) note.textContent = "Select a step first: Tab to its title, or j / k to one of its messages.";
  });

  document.addEventListener("click", (event) => {
    const button = event.target instanceof Element ? event.target.closest("[data-action=wrong-step]") : null;
    if (button) { event.preventDefault(); mark(Number(button.closest(".traj-step").dataset.step)); }
  });
})();
