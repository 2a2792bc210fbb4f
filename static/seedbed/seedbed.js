// Seedbed's own script. No inline scripts anywhere, so the CSP can forbid them.
// Confirm destructive forms that carry data-confirm.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});
