"use strict";
(function () {
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var S = data.strings;
  var F = data.fields;
  var PAGE = 200;
  var shown = PAGE;
  var picked = null; // [event_type, permutation, check] of a clicked cell

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else if (key === "cls") node.className = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }
  function str(i) { return i < 0 ? null : S[i]; }
  function finding(row) {
    var out = {};
    F.forEach(function (name, k) { out[name] = str(row[k]); });
    out.deliveries = row.slice(F.length);
    return out;
  }
  var findings = data.findings.map(finding);

  // --- header: overall status, counts, seed, versions, timing ---
  var overall = document.getElementById("overall");
  overall.textContent = data.summary.status.toUpperCase();
  overall.className = "badge " + data.summary.status;
  document.getElementById("summary").textContent =
    data.summary.checks + " checks: " + data.summary.passed + " passed, " + data.summary.failed +
    " failed, " + data.summary.skipped + " skipped; " + findings.length + " findings from " +
    data.deliveries_total + " deliveries";
  var meta = document.getElementById("meta");
  Object.keys(data.meta).forEach(function (key) {
    var value = data.meta[key];
    if (value === null || value === undefined || (Array.isArray(value) && !value.length)) return;
    meta.appendChild(el("div", {cls: "kv"}, [el("span", {cls: "k", text: key.replace(/_/g, " ")}),
      el("span", {cls: "v mono", "data-key": key,
        text: typeof value === "object" ? JSON.stringify(value) : String(value)})]));
  });

  // --- root causes first ---
  if (data.headlines.length) {
    document.getElementById("headlines").hidden = false;
    var list = document.getElementById("headline-list");
    data.headlines.forEach(function (h) { list.appendChild(el("li", {text: "ROOT CAUSE: " + h.text})); });
  }

  // --- the checks table ---
  var checkBody = document.querySelector("#checks tbody");
  data.checks.forEach(function (c) {
    checkBody.appendChild(el("tr", {"data-check": c.id}, [
      el("td", {}, [el("code", {text: c.id})]),
      el("td", {}, [el("span", {cls: "status " + c.status, text: c.status})]),
      el("td", {cls: "n", text: String(c.counts.pass)}),
      el("td", {cls: "n", text: String(c.counts.fail)}),
      el("td", {cls: "n", text: String(c.counts.skip)}),
      el("td", {text: c.skip_reason || c.title})
    ]));
  });

  // --- filters ---
  var fCheck = document.getElementById("filter-check");
  var fType = document.getElementById("filter-type");
  var fOutcome = document.getElementById("filter-outcome");
  data.checks.forEach(function (c) { fCheck.appendChild(el("option", {value: c.id, text: c.id})); });
  var types = [];
  data.matrix.rows.forEach(function (r, i) { if (types.indexOf(r[0]) < 0) types.push(r[0]); });
  types.forEach(function (t) { fType.appendChild(el("option", {value: t, text: t})); });

  // --- the matrix: one row per event type x permutation, one column per check ---
  var OUTCOMES = {F: "fail", P: "pass", S: "skip", s: "sent", "-": "none"};
  var TITLES = {fail: "fail", pass: "pass", skip: "skip (not judged)",
    sent: "sent; judged with the check's other deliveries", none: "not sent by this check"};
  var head = el("tr", {}, [el("th", {text: ""})]);
  data.matrix.columns.forEach(function (c) { head.appendChild(el("th", {"data-check": c, title: c, text: c})); });
  document.querySelector("#matrix thead").appendChild(head);
  var matrixBody = document.querySelector("#matrix tbody");
  data.matrix.rows.forEach(function (r, i) {
    var label = r[0] + (r[1] ? " (" + r[1] + ")" : "");
    var tr = el("tr", {"data-type": r[0], "data-permutation": r[1]}, [el("th", {text: label})]);
    data.matrix.columns.forEach(function (c, j) {
      var outcome = OUTCOMES[data.matrix.cells[i].charAt(j)];
      var td = el("td", {cls: "cell " + outcome, "data-check": c, "data-outcome": outcome,
        title: label + " / " + c + ": " + TITLES[outcome]});
      if (outcome !== "none") {
        td.addEventListener("click", function () {
          picked = picked && picked[0] === r[0] && picked[1] === r[1] && picked[2] === c ? null : [r[0], r[1], c];
          shown = PAGE;
          apply();
        });
      }
      tr.appendChild(td);
    });
    matrixBody.appendChild(tr);
  });

  // --- one finding ---
  function copy(text, button) {
    function done() { button.textContent = "copied"; button.setAttribute("data-copied", text); }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallback(text); done(); });
    } else { fallback(text); done(); }
  }
  function fallback(text) {
    var area = el("textarea", {readonly: ""});
    area.value = text;
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); } catch (e) { /* the command stays on the page to select */ }
    document.body.removeChild(area);
  }
  function headers(list) {
    return list.map(function (h) { return h[0] + ": " + h[1]; }).join("\n");
  }
  function body(b) {
    return b.text + (b.cut ? "\n[... " + b.size + " bytes in all; cut]" : "");
  }
  function deliveryNode(d) {
    var rq = d.request, rs = d.response;
    var answer = rs.status ? String(rs.status) : "no answer";
    var parts = [
      el("summary", {text: "delivery " + d.label + ": " + rq.method + " " + rq.url + " -> " + answer +
        " in " + rs.elapsed + " s, " + d.calls.length + " API call(s)"}),
      el("h4", {text: "request"}),
      el("pre", {cls: "request", text: rq.method + " " + rq.url + "\n" + headers(rq.headers) + "\n\n" + body(rq.body)}),
      el("h4", {text: "answer"}),
      el("pre", {cls: "response", text: (rs.error ? "error: " + rs.error + "\n" : "") + "HTTP " + answer + "\n" +
        headers(rs.headers) + "\n\n" + body(rs.body)})
    ];
    if (d.calls.length) {
      parts.push(el("h4", {text: "API calls"}));
      parts.push(el("pre", {cls: "calls", text: d.calls.map(function (c) {
        return c.method + " " + c.path + " -> " + c.status +
          (c.account ? "  Stripe-Account: " + c.account : "") +
          (c.idempotency_key ? "  Idempotency-Key: " + c.idempotency_key : "") +
          (c.key_mode ? "  key: " + c.key_mode : "") + (c.error ? "  (" + c.error + ")" : "");
      }).join("\n")}));
    }
    return el("details", {cls: "delivery"}, parts);
  }
  function findingNode(f) {
    var what = f.event_type ? f.event_type + (f.permutation ? " (" + f.permutation + ")" : "") : "the whole run";
    var dl = el("dl");
    [["variant", f.variant], ["expected", f.expected], ["actual", f.actual], ["reason", f.reason]].forEach(function (p) {
      if (p[1] === null) return;
      dl.appendChild(el("dt", {text: p[0]}));
      dl.appendChild(el("dd", {cls: p[0], text: p[1]}));
    });
    var node = el("div", {cls: "finding " + f.status, "data-check": f.check, "data-status": f.status,
      "data-type": f.event_type || ""}, [
      el("div", {cls: "what"}, [el("span", {cls: "status " + f.status, text: f.status}),
        document.createTextNode(" " + f.check + " \u2014 " + what)]),
      dl
    ]);
    if (f.reproduce) {
      var button = el("button", {type: "button", cls: "copy", text: "copy"});
      button.addEventListener("click", function () { copy(f.reproduce, button); });
      node.appendChild(el("div", {cls: "repro"}, [el("code", {cls: "reproduce", text: f.reproduce}), button]));
    }
    f.deliveries.forEach(function (i) { node.appendChild(deliveryNode(data.deliveries[i])); });
    return node;
  }

  // --- applying the filters ---
  var list = document.getElementById("findings");
  var more = document.getElementById("more");
  function apply() {
    var check = fCheck.value, type = fType.value, outcome = fOutcome.value;
    var ths = document.querySelectorAll("#matrix thead th[data-check]");
    var columnShown = {};
    data.matrix.columns.forEach(function (c, k) {
      columnShown[c] = !check || check === c;
      ths[k].hidden = !columnShown[c];
    });
    Array.prototype.forEach.call(matrixBody.rows, function (tr) {
      var any = false;
      Array.prototype.forEach.call(tr.querySelectorAll("td"), function (td) {
        var c = td.getAttribute("data-check");
        td.hidden = !columnShown[c];
        var o = td.getAttribute("data-outcome");
        if (!td.hidden && o !== "none" && (!outcome || o === outcome)) any = true;
        td.classList.toggle("picked", !!picked && picked[0] === tr.getAttribute("data-type") &&
          picked[1] === tr.getAttribute("data-permutation") && picked[2] === c);
      });
      tr.hidden = (type && tr.getAttribute("data-type") !== type) || !any;
    });
    var matching = findings.filter(function (f) {
      if (check && f.check !== check) return false;
      if (type && f.event_type !== type) return false;
      if (outcome && f.status !== outcome) return false;
      if (picked && (f.check !== picked[2] || (f.event_type && (f.event_type !== picked[0] ||
          (f.permutation && f.permutation !== picked[1]))))) return false;
      return true;
    });
    matching.sort(function (a, b) { return (a.status !== "fail") - (b.status !== "fail"); });
    list.textContent = "";
    matching.slice(0, shown).forEach(function (f) { list.appendChild(findingNode(f)); });
    document.getElementById("finding-count").textContent = "(" + matching.length + (picked ? ", one cell" : "") + ")";
    more.hidden = matching.length <= shown;
    more.textContent = "show more (" + (matching.length - Math.min(shown, matching.length)) + " left)";
  }
  [fCheck, fType, fOutcome].forEach(function (s) {
    s.addEventListener("change", function () { picked = null; shown = PAGE; apply(); });
  });
  document.getElementById("filter-clear").addEventListener("click", function () {
    fCheck.value = ""; fType.value = ""; fOutcome.value = ""; picked = null; shown = PAGE; apply();
  });
  more.addEventListener("click", function () { shown += PAGE; apply(); });
  apply();
  // Milliseconds from navigation to a drawn page: what bench/html_report_open.py reports.
  document.body.setAttribute("data-ready", String(Math.round(performance.now())));
})();
