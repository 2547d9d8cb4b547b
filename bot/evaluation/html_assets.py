"""The inline style sheet and script of `report.html`: the page must work offline, from one file."""

__all__ = ["PAGE_SCRIPT", "PAGE_STYLE"]

PAGE_STYLE = """
:root { --ink: #1d2433; --muted: #5b6577; --line: #d9dee7; --good: #0b7a52; --bad: #b42318; --warn: #b54708;
        --tint: #f4f6fa; --accent: #2356c9; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--ink); }
header { background: #1d2433; color: #fff; padding: 20px 32px; }
header h1 { margin: 0; font-size: 22px; }
header p { margin: 4px 0 0; color: #c4cad6; font-size: 13px; }
nav { position: sticky; top: 0; background: #fff; border-bottom: 1px solid var(--line); padding: 8px 32px;
      z-index: 1; }
nav a { margin-right: 18px; color: var(--accent); text-decoration: none; font-weight: 600; }
main { padding: 8px 32px 48px; max-width: 1400px; }
h2 { margin-top: 36px; border-bottom: 2px solid var(--line); padding-bottom: 4px; }
h3 { margin-top: 28px; }
.cards { display: flex; flex-wrap: wrap; gap: 16px; margin: 20px 0; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 14px 18px; min-width: 220px;
        background: var(--tint); }
.card .label { color: var(--muted); font-size: 13px; text-transform: uppercase; letter-spacing: .04em; }
.card .value { font-size: 30px; font-weight: 700; }
.card .detail { color: var(--muted); font-size: 13px; }
.good { color: var(--good); } .bad { color: var(--bad); } .warn { color: var(--warn); }
table { border-collapse: collapse; margin: 12px 0; font-size: 14px; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 12px; text-align: left; vertical-align: top; }
th { background: var(--tint); position: relative; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th::after { content: " \\2195"; color: #a0a8b8; font-size: 11px; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.average td { background: #fafbfd; font-weight: 600; }
.bar { display: inline-block; height: 8px; border-radius: 4px; background: var(--good); margin-left: 6px;
       vertical-align: middle; }
.bar.low { background: var(--bad); } .bar.mid { background: var(--warn); }
.confused { color: var(--muted); font-size: 13px; }
figure { margin: 16px 0; }
figure .frame { overflow: auto; max-height: 85vh; border: 1px solid var(--line); border-radius: 6px;
                background: #fff; }
figure img { display: block; max-width: 100%; height: auto; cursor: zoom-in; }
figure img.full { max-width: none; cursor: zoom-out; }
figcaption { color: var(--muted); font-size: 13px; }
pre.story { background: #0f1522; color: #e6e9ef; padding: 14px 16px; border-radius: 6px; overflow: auto;
            font-size: 13px; line-height: 1.45; }
pre.story mark { background: #5c1f1f; color: #ffd7d7; }
mark.entity { background: #e3ecff; padding: 0 2px; border-radius: 3px; }
mark.entity sub { color: var(--accent); font-size: 11px; }
.empty { color: var(--muted); font-style: italic; }
footer { color: var(--muted); font-size: 13px; margin-top: 48px; }
"""

# Click a header to sort the table by that column; numbers sort by their data-value.
PAGE_SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, column) {
    th.addEventListener("click", function () {
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var ascending = th.dataset.order !== "asc";
      th.dataset.order = ascending ? "asc" : "desc";
      rows.sort(function (a, b) {
        var x = a.cells[column], y = b.cells[column];
        var nx = parseFloat(x.dataset.value), ny = parseFloat(y.dataset.value);
        var order = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.textContent.localeCompare(y.textContent);
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
document.querySelectorAll("figure img").forEach(function (img) {
  img.addEventListener("click", function () { img.classList.toggle("full"); });
});
"""
