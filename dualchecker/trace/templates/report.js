// Record filters: by label, re-prompted, teacher/student disagreement, wrong vs gold, failed, text.
(function () {
  "use strict";
  var form = document.getElementById("filters");
  var shown = document.getElementById("shown");
  var records = Array.prototype.slice.call(document.querySelectorAll("details.record"));
  var flags = ["reprompted", "disagree", "wrong", "failed"];

  function matches(record) {
    var label = form.elements.label.value;
    var query = form.elements.query.value.trim().toLowerCase();
    if (label && record.dataset.label !== label) return false;
    for (var i = 0; i < flags.length; i++) {
      if (form.elements[flags[i]].checked && record.dataset[flags[i]] !== "1") return false;
    }
    return !query || record.dataset.search.indexOf(query) !== -1;
  }

  function apply() {
    var count = 0;
    records.forEach(function (record) {
      var ok = matches(record);
      record.hidden = !ok;
      if (ok) count += 1;
    });
    shown.textContent = String(count);
  }

  function openAll(open) {
    records.forEach(function (record) {
      if (!record.hidden || !open) record.open = open;
    });
  }

  form.addEventListener("input", apply);
  form.addEventListener("change", apply);
  form.addEventListener("submit", function (event) { event.preventDefault(); });
  document.getElementById("expand").addEventListener("click", function () { openAll(true); });
  document.getElementById("collapse").addEventListener("click", function () { openAll(false); });
  function openLinked() {
    if (location.hash.indexOf("#record-") !== 0) return;
    var target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
    if (target) target.open = true;
  }

  window.addEventListener("hashchange", openLinked);
  openLinked();
  apply();
})();
