// Buttons marked data-print open the browser's print dialog (the page has a print stylesheet).
(function () {
  document.querySelectorAll("[data-print]").forEach(function (b) {
    b.hidden = false;
    b.addEventListener("click", function () { window.print(); });
  });
})();
