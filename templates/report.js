(function () {
  "use strict";
  function key(cell) {
    var v = cell.getAttribute("data-v");
    if (v !== null && v !== "" && !isNaN(Number(v))) { return Number(v); }
    return cell.textContent.toLowerCase();
  }
  // The view in the address (#sort=TABLE,COLUMN,asc|desc&filter=TABLE,TEXT),
  // so a sorted or filtered table can be linked to.
  var view = {};
  function remember() {
    var parts = [];
    if (view.sort) { parts.push("sort=" + encodeURIComponent(view.sort)); }
    if (view.filter) { parts.push("filter=" + encodeURIComponent(view.filter)); }
    try { history.replaceState(null, "", parts.length ? "#" + parts.join("&") : location.pathname); } catch (e) { /* file:// may refuse */ }
  }
  function sortBy(table, column, th, way) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var up = way ? way === "asc" : th.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", up ? "ascending" : "descending");
    rows.sort(function (a, b) {
      var x = key(a.cells[column]), y = key(b.cells[column]);
      if (typeof x !== typeof y) { x = String(x); y = String(y); }
      return (x < y ? -1 : x > y ? 1 : 0) * (up ? 1 : -1);
    });
    rows.forEach(function (r) { body.appendChild(r); });
    view.sort = table.id + "," + column + "," + (up ? "asc" : "desc");
  }
  function filter(table, input) {
    var q = input.value.toLowerCase();
    Array.prototype.forEach.call(table.tBodies[0].rows, function (r) {
      r.hidden = q !== "" && r.textContent.toLowerCase().indexOf(q) < 0;
    });
    view.filter = q === "" ? "" : table.id + "," + input.value;
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
      th.tabIndex = 0;
      th.addEventListener("click", function () { sortBy(table, i, th); remember(); });
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") { sortBy(table, i, th); remember(); } });
    });
  });
  Array.prototype.forEach.call(document.querySelectorAll("input.filter"), function (input) {
    var table = document.getElementById(input.getAttribute("data-filter"));
    if (!table) { return; }
    input.hidden = false;
    input.addEventListener("input", function () { filter(table, input); remember(); });
  });
  location.hash.replace(/^#/, "").split("&").forEach(function (part) {
    var kv = part.split("=");
    if (kv.length !== 2) { return; }
    var args;
    try { args = decodeURIComponent(kv[1]).split(","); } catch (e) { return; }
    var table = document.getElementById(args[0]);
    if (!table || !table.tHead || args.length < 2) { return; }
    if (kv[0] === "sort") {
      var column = Number(args[1]);
      var th = table.tHead.rows[0].cells[column];
      if (th) { sortBy(table, column, th, args[2] === "desc" ? "desc" : "asc"); }
    } else if (kv[0] === "filter") {
      var input = document.querySelector("input.filter[data-filter='" + table.id + "']");
      if (input) { input.value = args.slice(1).join(","); filter(table, input); }
    }
  });
  document.documentElement.setAttribute("data-script", "ran");
}());
