// Name the module on the export badge: class "tag_export-nn" -> data-dlbook-module="dlbook.nn".
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll('div.cell[class*="tag_export-"]').forEach((cell) => {
    const cls = [...cell.classList].find((c) => c.startsWith("tag_export-"));
    const input = cell.querySelector(":scope > .cell_input");
    if (cls && input) {
      input.dataset.dlbookModule = "dlbook." + cls.slice("tag_export-".length);
      input.title = "This cell is tangled into the dlbook package (tools/tangle.py)";
    }
  });
});
