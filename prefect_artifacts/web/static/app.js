// Small behaviours on top of server-rendered pages: copy buttons, keyboard navigation of lists,
// the preview's column picker and sortable columns. Nothing here is needed to read a page.
(function () {
  "use strict";
  function toast(text) {
    const t = document.createElement("div"); t.className = "toast"; t.textContent = text;
    document.body.appendChild(t); setTimeout(function () { t.remove(); }, 1400);
  }
  document.addEventListener("click", function (e) {
    const button = e.target.closest("[data-copy]");
    if (button) {
      e.preventDefault();
      const text = button.getAttribute("data-copy");
      const done = function () { button.textContent = "copied"; toast("copied"); setTimeout(function () { button.textContent = "copy"; }, 1200); };
      if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, done);
      else { const a = document.createElement("textarea"); a.value = text; document.body.appendChild(a); a.select(); try { document.execCommand("copy"); } catch (x) {} a.remove(); done(); }
      button.setAttribute("data-copied", text);
    }
    if (e.target.closest("[data-help]")) { e.preventDefault(); document.getElementById("help").showModal(); }
    const th = e.target.closest("th[data-sort-client]");
    if (th) sortTable(th);
  });
  // keyboard: j/k move through the rows of the main list, Enter opens, / focuses the search
  let index = -1;
  function listRows() { const t = document.querySelector("table[data-keys]"); return t ? Array.from(t.querySelectorAll("tbody tr")) : []; }
  document.addEventListener("keydown", function (e) {
    if (e.target.closest("input, textarea, select") || e.metaKey || e.ctrlKey || e.altKey) return;
    const rows = listRows();
    if (e.key === "j" || e.key === "k") {
      if (!rows.length) return;
      if (rows[index]) rows[index].classList.remove("selected");
      index = Math.max(0, Math.min(rows.length - 1, index + (e.key === "j" ? 1 : -1)));
      rows[index].classList.add("selected"); rows[index].scrollIntoView({ block: "nearest" });
      const link = rows[index].querySelector("a"); if (link) link.focus({ preventScroll: true });
      e.preventDefault();
    } else if (e.key === "Enter" && rows[index]) {
      const link = rows[index].querySelector("a"); if (link) link.click();
    } else if (e.key === "/") {
      const search = document.querySelector("input[name=search]"); if (search) { search.focus(); e.preventDefault(); }
    } else if (e.key === "?") { document.getElementById("help").showModal(); }
  });
  // dataset preview: sort by a column (in the page), hide or show columns
  function sortTable(th) {
    const table = th.closest("table"), body = table.tBodies[0], col = th.cellIndex;
    const down = th.getAttribute("aria-sort") === "ascending";
    table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", down ? "descending" : "ascending");
    const rows = Array.from(body.rows);
    const key = function (r) { const c = r.cells[col]; const v = c.getAttribute("data-v"); return v === null ? c.textContent : v; };
    const numeric = rows.every(function (r) { const v = key(r); return v === "" || !isNaN(Number(v)); });
    rows.sort(function (a, b) {
      let x = key(a), y = key(b);
      if (numeric) { x = x === "" ? -Infinity : Number(x); y = y === "" ? -Infinity : Number(y); }
      return (x < y ? -1 : x > y ? 1 : 0) * (down ? -1 : 1);
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  document.addEventListener("change", function (e) {
    const box = e.target.closest("[data-column-toggle]");
    if (!box) return;
    const table = document.getElementById(box.getAttribute("data-table"));
    const i = Number(box.getAttribute("data-column-toggle"));
    table.querySelectorAll("tr").forEach(function (r) { if (r.cells[i]) r.cells[i].classList.toggle("hidden-col", !box.checked); });
  });
  document.addEventListener("submit", function (e) {
    const form = e.target.closest("form[data-compare]");
    if (form && form.querySelectorAll("input[name=ref]:checked").length < 2) { e.preventDefault(); toast("pick at least two versions"); }
  });
})();

// A region that scrolls is reachable from the keyboard (it takes focus, arrows scroll it).
function focusableScrollers() {
  document.querySelectorAll(".scroll, pre, .graph").forEach(function (el) {
    const scrolls = el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1;
    if (scrolls && !el.hasAttribute("tabindex")) { el.tabIndex = 0; }
  });
}
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", focusableScrollers);
else focusableScrollers();
