// The tender form's bid bond notice follows the category, government-investment and waiver
// fields as they change. The server works the same rule out and shows it without this script.
(function () {
  "use strict";
  function update() {
    var notice = document.getElementById("bond-rule");
    var category = document.getElementById("category");
    if (!notice || !category) { return; }
    var gov = document.getElementById("government_investment");
    var waived = document.getElementById("bond_waived");
    var rule = "none";
    if (category.value === "works" && gov && gov.checked) { rule = "government-works"; }
    else if (waived && waived.checked) { rule = "tenderee-waives"; }
    notice.textContent = notice.getAttribute("data-rule-" + rule);
    notice.classList.toggle("warn", rule !== "none");
  }
  document.addEventListener("DOMContentLoaded", function () {
    ["category", "government_investment", "bond_waived"].forEach(function (id) {
      var el = document.getElementById(id);
      if (el) { el.addEventListener("change", update); }
    });
  });
})();
