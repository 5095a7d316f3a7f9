// Password strength hint, advisory (the server decides:
// tenants.CheckNewPassword). <input data-strength[=id] minlength> gets Weak,
// Fair or Strong and a hint in its form's <output data-strength-meter
// aria-live="polite"> (or the element with that id). common: the 200 most
// common passwords of 6+ characters in internal/password/breached's list.
(function () {
  "use strict";
  var common = new Set("123456 password 12345678 qwerty 123456789 111111 1234567 dragon 123123 baseball abc123 football monkey letmein shadow master 696969 michael mustang 666666 qwertyuiop 123321 1234567890 superman 654321 1qaz2wsx 7777777 qazwsx jordan jennifer 123qwe 000000 killer trustno1 hunter harley zxcvbnm asdfgh buster andrew batman soccer tigger charlie robert sunshine thomas iloveyou ranger daniel hockey george computer michelle jessica starwars asshole pepper klaster 112233 zxcvbn freedom princess joshua maggie ginger 11111111 131313 amanda ashley cheese 159753 nicole summer matthew chelsea dallas biteme matrix william yankees taylor corvette austin access martin heather thunder merlin secret diamond anthony hammer 1234qwer silver gfhjkm justin patrick richard bailey internet samantha golfer scooter orange cookie q1w2e3r4t5 maverick jackson sparky phoenix mickey bigdog snoopy guitar whatever chicken morgan andrea camaro mercedes peanut ferrari falcon cowboy welcome samsung steelers smokey joseph dakota melissa arsenal boomer eagles tigers marina nascar gateway yellow porsche monster spider diablo hannah bulldog junior london purple compaq lakers iceman qwer1234 hardcore cowboys banana ncc1701 boston brandon tennis johnny miller q1w2e3r4 coffee scooby 123654 edward nikita yamaha mother barney brandy chester oliver charles player knight forever steven rangers midnight chicago bigdaddy redsox victoria badboy please fender jasper slayer rabbit natasha rachel marine wizard marlboro raiders prince casper fishing".split(" "));
  var seqs = "abcdefghijklmnopqrstuvwxyz 0123456789 qwertyuiop asdfghjkl zxcvbnm";
  function hasSeq(s) {
    for (var i = 0; i + 3 <= s.length; i++) {
      var t = s.substr(i, 3), r = t.split("").reverse().join("");
      if (seqs.indexOf(t) >= 0 || seqs.indexOf(r) >= 0) return true;
    }
    return false;
  }
  // rate: [level 0..2, hint]
  function rate(pw, min) {
    var s = pw.normalize ? pw.normalize("NFKC") : pw, n = Array.from(s).length, low = s.toLowerCase();
    if (n < min) return [0, "Too short: use at least " + min + " characters."];
    var stem = low.replace(/[^a-z\u00c0-\uffff]+$/, "");
    if (common.has(low) || (stem.length >= 4 && common.has(stem))) return [0, "This is one of the most common passwords."];
    var pool = 0;
    if (/[a-z]/.test(s)) pool += 26;
    if (/[A-Z]/.test(s)) pool += 26;
    if (/[0-9]/.test(s)) pool += 10;
    if (/[^a-zA-Z0-9]/.test(s)) pool += 33;
    var bits = n * Math.log2(Math.max(pool, 10)), hint = "";
    if (/(.)\1\1/.test(s)) { bits *= 0.6; hint = "Avoid repeated characters such as aaa."; }
    if (hasSeq(low)) { bits *= 0.7; hint = "Avoid sequences such as abc, 123 or qwerty."; }
    if (new Set(Array.from(low)).size < n / 2) bits *= 0.7;
    if (bits >= 60) return [2, hint || "Long passphrases are the strongest."];
    return [bits >= 40 ? 1 : 0, hint || "Make it longer: add a word or a few characters."];
  }
  var names = ["Weak", "Fair", "Strong"];
  document.querySelectorAll("input[data-strength]").forEach(function (input) {
    var id = input.getAttribute("data-strength"), form = input.form || document;
    var out = id ? document.getElementById(id) : form.querySelector("[data-strength-meter]");
    if (!out) return;
    var min = input.minLength > 0 ? input.minLength : 8;
    input.addEventListener("input", function () {
      if (!input.value) { out.textContent = ""; out.removeAttribute("data-level"); return; }
      var r = rate(input.value, min);
      out.setAttribute("data-level", names[r[0]].toLowerCase());
      out.textContent = names[r[0]] + ". " + r[1];
    });
  });
})();
