// Badge every exported cell with its module: class "tag_export-nn" -> "→ dlbook.nn".
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll('div.cell[class*="tag_export-"]').forEach((cell) => {
    const cls = [...cell.classList].find((c) => c.startsWith("tag_export-"));
    const badge = document.createElement("span");
    badge.className = "dlbook-badge";
    badge.textContent = "→ dlbook." + cls.slice("tag_export-".length);
    badge.title = "This cell is library code: tools/tangle.py writes it to src/dlbook/";
    cell.prepend(badge);
  });
});
