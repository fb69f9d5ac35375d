// swk incident report: in-page filters, expand/collapse, and every card opened for printing. No network, no eval.
(function () {
  "use strict";
  var cards = Array.prototype.slice.call(document.querySelectorAll("details.card"));
  var severity = document.getElementById("f-severity");
  var status = document.getElementById("f-status");
  var name = document.getElementById("f-name");
  var count = document.getElementById("f-count");
  var none = document.getElementById("no-match");

  function apply() {
    var min = parseInt(severity.value, 10) || 0;
    var want = status.value;
    var words = name.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    cards.forEach(function (card) {
      var text = (card.getAttribute("data-name") || "").toLowerCase();
      var ok = (parseInt(card.getAttribute("data-severity"), 10) || 0) >= min &&
        (!want || card.getAttribute("data-status") === want) &&
        words.every(function (w) { return text.indexOf(w) !== -1; });
      card.hidden = !ok;
      if (ok) { shown += 1; }
    });
    count.textContent = shown + " of " + cards.length + " shown";
    none.hidden = shown !== 0 || cards.length === 0;
  }

  function setAll(open) {
    cards.forEach(function (card) { if (!card.hidden) { card.open = open; } });
  }

  [severity, status].forEach(function (el) { el.addEventListener("change", apply); });
  name.addEventListener("input", apply);
  document.getElementById("filters").addEventListener("submit", function (e) { e.preventDefault(); });
  document.getElementById("expand-all").addEventListener("click", function () { setAll(true); });
  document.getElementById("collapse-all").addEventListener("click", function () { setAll(false); });

  // A link to a card or an evidence row opens what holds it.
  function reveal() {
    var id = decodeURIComponent(location.hash.slice(1));
    var el = id && document.getElementById(id);
    for (var p = el; p; p = p.parentElement) {
      if (p.tagName === "DETAILS") { p.open = true; p.hidden = false; }
    }
  }
  window.addEventListener("hashchange", reveal);
  reveal();

  // Printing shows everything: open every <details> and unhide filtered cards, then restore.
  var saved = [];
  window.addEventListener("beforeprint", function () {
    saved = Array.prototype.map.call(document.querySelectorAll("details"), function (d) {
      var state = [d, d.open, d.hidden];
      d.open = true; d.hidden = false;
      return state;
    });
  });
  window.addEventListener("afterprint", function () {
    saved.forEach(function (s) { s[0].open = s[1]; s[0].hidden = s[2]; });
  });
  apply();
})();
