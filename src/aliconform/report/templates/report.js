// Filters and expandable rows for the aliconform drift report. No network, no external assets.
(function () {
  "use strict";
  function applyFilters(bar) {
    var table = document.getElementById(bar.getAttribute("data-for"));
    if (!table) { return; }
    var wanted = {};
    bar.querySelectorAll("[data-facet]").forEach(function (control) {
      wanted[control.getAttribute("data-facet")] = control.value.trim().toLowerCase();
    });
    var rows = table.querySelectorAll("tr.finding");
    var shown = 0;
    rows.forEach(function (row) {
      var visible = ["operation", "kind", "severity", "status"].every(function (facet) {
        return !wanted[facet] || row.getAttribute("data-" + facet).toLowerCase() === wanted[facet];
      }) && (!wanted.text || row.getAttribute("data-text").indexOf(wanted.text) !== -1);
      row.hidden = !visible;
      var detail = detailOf(row);
      if (detail && !visible) { detail.hidden = true; row.setAttribute("aria-expanded", "false"); }
      if (visible) { shown += 1; }
    });
    var counter = bar.querySelector('[data-role="shown"]');
    if (counter) { counter.textContent = shown + " of " + rows.length + " shown"; }
  }
  // A finding's detail row follows it: looked up beside it, not searched for in the whole
  // table (which, once per row, made filtering thousands of findings take seconds).
  function detailOf(row) {
    var next = row.nextElementSibling;
    return next && next.classList.contains("detail") &&
      next.getAttribute("data-detail-for") === row.getAttribute("data-id") ? next : null;
  }
  function toggle(row) {
    var detail = detailOf(row);
    if (!detail) { return; }
    detail.hidden = !detail.hidden;
    row.setAttribute("aria-expanded", detail.hidden ? "false" : "true");
  }
  // The page is whole without this script: every detail shown, no filters. With it, details
  // fold under their rows and the filters appear.
  document.querySelectorAll("tr.finding").forEach(function (row) {
    var detail = detailOf(row);
    if (!detail) { return; }
    detail.hidden = true;
    row.tabIndex = 0;
    row.setAttribute("aria-expanded", "false");
  });
  document.querySelectorAll(".filters").forEach(function (bar) {
    bar.hidden = false;
    var pending = null;
    bar.querySelectorAll("[data-facet]").forEach(function (control) {
      if (control.tagName === "SELECT") {
        control.addEventListener("change", function () { applyFilters(bar); });
      } else {  // typing: filter once the keys pause, not on every key
        control.addEventListener("input", function () {
          clearTimeout(pending);
          pending = setTimeout(function () { applyFilters(bar); }, 150);
        });
      }
    });
  });
  document.querySelectorAll("tr.finding").forEach(function (row) {
    row.addEventListener("click", function () { toggle(row); });
    row.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); toggle(row); }
    });
  });
})();
