// The course request form, guided: content elements of the chosen theme only, instructors that fit the
// chosen instructor mode (and teach the chosen theme), only the fields of the chosen level, and one row of
// date and times per lesson as the lesson count changes. The page works without this file; the server
// checks everything again (an element of another theme, an instructor of the wrong kind, the times).
(function () {
  "use strict";
  var form = document.querySelector("form[data-request-form]");
  if (!form) return;

  function say(name, n) {
    return (form.getAttribute("data-msg-" + name) || "").replace("{n}", String(n));
  }

  function checked(name) {
    var input = form.querySelector('input[name="' + name + '"]:checked') ||
      form.querySelector('input[type="hidden"][name="' + name + '"]');
    return input ? input.value : "";
  }

  // Rebuild a select from a remembered list of options, keeping the choice when it is still offered.
  function offer(select, empty, all, keep) {
    var current = select.value;
    while (select.firstChild) select.removeChild(select.firstChild);
    select.appendChild(empty);
    var kept = all.filter(keep);
    kept.forEach(function (option) { select.appendChild(option); });
    select.value = kept.some(function (o) { return o.value === current; }) ? current : "";
    return kept.length;
  }

  function remember(select) {
    return Array.prototype.map.call(select.querySelectorAll("option[value]:not([value=''])"), function (o) {
      return o;
    });
  }

  var theme = form.querySelector("#theme_id");

  // 1. Content elements: those of the chosen theme.
  var element = form.querySelector("#content_element_id");
  var elementHint = form.querySelector("#content_element_id-hint");
  if (element && theme) {
    var elementEmpty = element.querySelector("option[value='']");
    var elements = remember(element);
    var showElements = function () {
      var chosen = theme.value;
      var n = offer(element, elementEmpty, elements, function (o) {
        return o.getAttribute("data-theme") === chosen;
      });
      element.disabled = !chosen || n === 0;
      elementHint.textContent = !chosen ? say("pick-theme") : n ? say("elements", n) : say("no-elements");
    };
    theme.addEventListener("change", showElements);
    showElements();
  }

  // 2. Instructors: the kind the mode asks for; pool instructors who teach the theme (or list no theme).
  var instructor = form.querySelector("#instructor_id");
  var instructorBox = form.querySelector("#instructor-choice");
  var instructorHint = form.querySelector("#instructor_id-hint");
  if (instructor) {
    var instructorEmpty = instructor.querySelector("option[value='']");
    var people = remember(instructor);
    var kinds = { office: "office", external: "external", school: "teacher" };
    var showInstructors = function () {
      var mode = checked("instructor_mode");
      if (mode === "homeroom") {
        instructor.value = "";
        instructorBox.hidden = true;
        instructorHint.textContent = say("homeroom");
        return;
      }
      instructorBox.hidden = false;
      var chosenTheme = theme ? theme.value : "";
      var n = offer(instructor, instructorEmpty, people, function (o) {
        if (o.getAttribute("data-kind") !== kinds[mode]) return false;
        var taught = (o.getAttribute("data-themes") || "").split(" ").filter(Boolean);
        return o.getAttribute("data-kind") === "teacher" || !chosenTheme || !taught.length ||
          taught.indexOf(chosenTheme) >= 0;
      });
      instructorHint.textContent = n ? say("instructors", n) : say("no-instructors");
    };
    form.querySelectorAll('input[name="instructor_mode"]').forEach(function (r) {
      r.addEventListener("change", showInstructors);
    });
    if (theme) theme.addEventListener("change", showInstructors);
    showInstructors();
  }

  // 3. Only the fields of the chosen level (where more than one level may be chosen).
  var levelRadios = form.querySelectorAll('input[name="level"][type="radio"]');
  if (levelRadios.length) {
    var showLevel = function () {
      var level = checked("level");
      form.querySelectorAll("[data-level]").forEach(function (box) {
        box.hidden = box.getAttribute("data-level") !== level;
      });
    };
    levelRadios.forEach(function (r) { r.addEventListener("change", showLevel); });
    showLevel();
  }

  // 4. One row of date and times per lesson, following the lesson count. A filled row is never removed.
  var count = form.querySelector("#lesson_count");
  var rows = form.querySelector("#lesson-rows");
  var template = form.querySelector("#lesson-row-template");
  var empty = form.querySelector("#lesson-rows-empty");
  if (count && rows && template) {
    var filled = function (row) {
      return Array.prototype.some.call(row.querySelectorAll("input"), function (i) { return i.value; });
    };
    var makeRow = function (n) {
      var html = template.innerHTML.split("__n__").join(String(n));
      var holder = document.createElement("div");
      holder.innerHTML = html;
      return holder.firstElementChild;
    };
    var follow = function () {
      var wanted = parseInt(count.value, 10);
      wanted = isNaN(wanted) ? 0 : Math.max(0, Math.min(60, wanted));
      var have = rows.querySelectorAll("[data-lesson]");
      for (var n = have.length + 1; n <= wanted; n++) rows.appendChild(makeRow(n));
      have = rows.querySelectorAll("[data-lesson]");
      for (var i = have.length - 1; i >= wanted && !filled(have[i]); i--) rows.removeChild(have[i]);
      empty.hidden = rows.querySelectorAll("[data-lesson]").length > 0;
    };
    count.addEventListener("input", follow);
    follow();
  }
})();
