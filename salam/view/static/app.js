// Rows with data-href open their page; nothing else needs script (every page works without it).
document.addEventListener("click", (event) => {
  const row = event.target.closest("tr[data-href]");
  if (row && !event.target.closest("a, button, form")) window.location = row.dataset.href;
});
