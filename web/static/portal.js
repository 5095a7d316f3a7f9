// The admin portal's steps. Everything goes through the public GraphQL
// API (/graphql) with the portal session cookie: the X-Gatehouse-Portal
// header is what /graphql requires of the portal's requests. No inline
// script (CSP script-src 'self'); all copy comes from the page.
(function () {
  "use strict";
  var root = document.getElementById("portal");
  if (!root) return;
  var org = root.dataset.organization;
  var msg = document.getElementById("portal-messages").dataset;
  var status = document.getElementById("portal-status");
  var errorBox = document.getElementById("portal-error");
  var $ = function (id) { return document.getElementById(id); };
  var conn = null; // the connection being set up
  var provider = null; // the chosen provider's radio

  // said holds the page's words for the API's codes (#portal-catalog):
  // connection states, failed domain checks, error codes.
  var said = {};
  Array.prototype.forEach.call(document.querySelectorAll("#portal-catalog li"), function (li) {
    said[li.dataset.key] = li.textContent;
  });
  function word(kind, code, field) {
    var k = "page.portal." + kind + "." + String(code).toLowerCase();
    return (field && said[k + "." + field]) || said[k];
  }

  function say(text) { status.textContent = text; }
  // fail shows an error: an API error in the page's words, and for bad
  // input the API's precise reason (in English, marked so) after them.
  function fail(err) {
    errorBox.textContent = "";
    var text = err.code && word("error", err.code, err.field);
    errorBox.appendChild(document.createTextNode(text || msg.failed + " " + err.message));
    if (text && err.code === "BAD_USER_INPUT") {
      var detail = document.createElement("span");
      detail.lang = "en";
      detail.textContent = (err.field ? err.field + ": " : "") + err.message;
      errorBox.appendChild(document.createTextNode(" " + said["page.portal.error.details"] + " "));
      errorBox.appendChild(detail);
    }
    errorBox.dataset.code = err.code || "";
    errorBox.hidden = false;
  }
  function show(id) { $(id).hidden = false; }
  // next reveals a step and moves the keyboard focus to its heading, so
  // that the next Tab goes on from there (the button just used may be
  // disabled, which would drop the focus to the page's top).
  function next(id) {
    show(id);
    var h = $(id).querySelector("h2");
    if (h) h.focus();
  }

  function gql(query, variables) {
    errorBox.hidden = true;
    return fetch("/graphql", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-Gatehouse-Portal": "1" },
      body: JSON.stringify({ query: query, variables: variables || {} })
    }).then(function (res) {
      return res.json().then(function (body) {
        if (body.errors && body.errors.length) {
          var e = body.errors[0], ext = e.extensions || {};
          var err = new Error(e.message);
          err.code = ext.code; err.field = ext.field;
          throw err;
        }
        return body.data;
      });
    }).catch(function (err) { fail(err); throw err; });
  }

  Array.prototype.forEach.call(document.querySelectorAll("button.copy"), function (b) {
    b.addEventListener("click", function () {
      var input = $(b.dataset.copy);
      input.select();
      var done = function () { say(msg.copied); };
      if (navigator.clipboard) navigator.clipboard.writeText(input.value).then(done, done);
      else done();
    });
  });

  gql("query($id:ID!){organization(id:$id){name}}", { id: org }).then(function (d) {
    if (d.organization) $("org-name").textContent = d.organization.name;
  });

  // --- SSO ---
  var CONN = "id name preset state protocol acsURL spEntityID spMetadataURL redirectURI idpSSOURL oidcIssuer";

  function setConnection(c) {
    conn = c;
    var saml = c.protocol === "SAML";
    $("sp-saml").hidden = !saml; $("idp-saml").hidden = !saml;
    $("sp-oidc").hidden = saml; $("idp-oidc").hidden = saml;
    if (saml) {
      $("sp-acs").value = c.acsURL; $("sp-entity").value = c.spEntityID; $("sp-metadata").value = c.spMetadataURL;
    } else {
      $("sp-redirect").value = c.redirectURI;
    }
    $("test-connection").value = c.id;
    var state = $("connection-state");
    state.dataset.state = c.state;
    state.textContent = word("state", c.state) || c.state;
    show("step-configure");
  }

  // configured: the IdP's side is saved (SAML: its SSO URL; OIDC: the
  // issuer), so the test sign-in can run.
  function configured(c) { return c.protocol === "SAML" ? !!c.idpSSOURL : !!c.oidcIssuer; }

  // afterSave shows the steps after the identity provider's, and moves
  // on to the first one still to do: the domain, unless one is verified
  // already, then the test, unless one succeeded already.
  function afterSave(tested) {
    show("step-domain"); show("step-test"); show("step-activate");
    domainsLoaded.then(function (verified) {
      next(!verified ? "step-domain" : tested ? "step-activate" : "step-test");
    });
  }

  function mapping() {
    var m = {}, any = false;
    [["email", "map-email"], ["firstName", "map-first-name"], ["lastName", "map-last-name"], ["groups", "map-groups"]].forEach(function (p) {
      var v = $(p[1]).value.trim();
      if (v) { m[p[0]] = v; any = true; }
    });
    return any ? m : null;
  }

  if ($("create-connection")) {
    Array.prototype.forEach.call(document.querySelectorAll("input[name=provider]"), function (r) {
      r.addEventListener("change", function () {
        provider = r;
        Array.prototype.forEach.call(document.querySelectorAll(".instructions"), function (ol) {
          ol.hidden = ol.dataset.provider !== r.value;
        });
        [["map-email", "mapEmail"], ["map-first-name", "mapFirstName"], ["map-last-name", "mapLastName"], ["map-groups", "mapGroups"]].forEach(function (p) {
          $(p[0]).placeholder = r.dataset[p[1]] || "";
        });
        if (!$("conn-name").value) $("conn-name").value = r.parentNode.textContent.trim();
      });
    });

    $("create-connection").addEventListener("click", function () {
      if (!provider) { $("conn-name").focus(); return; }
      var input = { organizationID: org, name: $("conn-name").value.trim(), preset: provider.dataset.preset };
      var saml = provider.dataset.protocol === "SAML";
      var q = saml
        ? "mutation($in:CreateSAMLConnectionInput!){createSAMLConnection(input:$in){connection{" + CONN + "}}}"
        : "mutation($in:CreateOIDCConnectionInput!){createOIDCConnection(input:$in){connection{" + CONN + "}}}";
      gql(q, { in: input }).then(function (d) {
        setConnection(saml ? d.createSAMLConnection.connection : d.createOIDCConnection.connection);
        $("create-connection").disabled = true;
        next("step-configure");
      });
    });

    $("metadata-file").addEventListener("change", function () {
      var f = this.files[0];
      if (!f) return;
      f.text().then(function (t) { $("metadata-xml").value = t; });
    });

    $("save-connection").addEventListener("click", function () {
      var input = { id: conn.id };
      var m = mapping();
      if (m) input.attributeMapping = m;
      if (conn.protocol === "SAML") {
        var xml = $("metadata-xml").value.trim(), url = $("metadata-url").value.trim();
        if (xml) input.metadataXML = xml; else if (url) input.metadataURL = url;
      } else {
        ["issuer", "clientID", "clientSecret"].forEach(function (k, i) {
          var v = $(["oidc-issuer", "oidc-client-id", "oidc-client-secret"][i]).value.trim();
          if (v) input[k] = v;
        });
      }
      gql("mutation($in:UpdateConnectionInput!){updateConnection(input:$in){connection{" + CONN + "}}}", { in: input }).then(function (d) {
        setConnection(d.updateConnection.connection);
        say(msg.saved);
        afterSave(false);
      });
    });

    $("show-attempt").addEventListener("click", function () {
      gql("query($id:ID!){node(id:$id){... on Connection{lastLoginAttempts{succeeded errorCode errorReason subject email attributes{name values}}}}}", { id: conn.id }).then(function (d) {
        var box = $("attempt");
        box.textContent = "";
        var a = d.node && d.node.lastLoginAttempts[0];
        if (!a) { box.textContent = msg.noAttempt; return; }
        var p = document.createElement("p");
        p.className = a.succeeded ? "notice" : "error";
        p.textContent = a.succeeded ? msg.attemptOk + " " + (a.email || a.subject || "") : msg.attemptFailed + " " + a.errorCode + ": " + a.errorReason;
        box.appendChild(p);
        var ul = document.createElement("ul");
        a.attributes.forEach(function (at) {
          var li = document.createElement("li");
          li.textContent = at.name + ": " + at.values.join(", ");
          ul.appendChild(li);
        });
        box.appendChild(ul);
      });
    });

    $("activate").addEventListener("click", function () {
      gql("mutation($id:ID!){activateConnection(input:{id:$id}){connection{" + CONN + "}}}", { id: conn.id }).then(function (d) {
        setConnection(d.activateConnection.connection);
        say(msg.active);
      });
    });

    // A reload, or "Back to setup" from a test's result, takes up the
    // organization's draft (data-resume, tenants.PortalResumeConnection)
    // at the step it needs next instead of creating another.
    if (root.dataset.resume) {
      gql("query($id:ID!){node(id:$id){... on Connection{" + CONN + " attributeMapping{email firstName lastName groups} lastLoginAttempts{succeeded}}}}",
        { id: root.dataset.resume }).then(function (d) {
        var c = d.node;
        if (!c) return;
        Array.prototype.forEach.call(document.querySelectorAll("input[name=provider]"), function (r) {
          if (r.dataset.preset === c.preset && r.dataset.protocol === c.protocol) {
            r.checked = true;
            r.dispatchEvent(new Event("change"));
          }
        });
        $("conn-name").value = c.name;
        [["map-email", "email"], ["map-first-name", "firstName"], ["map-last-name", "lastName"], ["map-groups", "groups"]].forEach(function (p) {
          $(p[0]).value = c.attributeMapping[p[1]] || "";
        });
        setConnection(c);
        $("create-connection").disabled = true;
        say(said["page.portal.resumed"]);
        if (!configured(c)) { next("step-configure"); return; }
        afterSave(c.lastLoginAttempts.some(function (a) { return a.succeeded; }));
      });
    }
  }

  // --- Domain verification (its own intent, and a step of SSO setup) ---
  var DOMAIN = "id domain txtRecordName verificationToken verified";
  var domain = null; // the domain being verified
  var claims = {}; // the organization's domains by name
  // listVerified shows the organization's verified domains.
  function listVerified() {
    var ul = $("verified-list"), any = false;
    ul.textContent = "";
    Object.keys(claims).sort().forEach(function (name) {
      if (!claims[name].verified) return;
      var li = document.createElement("li");
      li.textContent = name;
      ul.appendChild(li);
      any = true;
    });
    $("verified-domains").hidden = !any;
    return any;
  }
  // domainsLoaded resolves to whether the organization has a verified
  // domain.
  var domainsLoaded = !$("add-domain") ? Promise.resolve(false) :
    gql("query($id:ID!){organization(id:$id){domains(first:100){edges{node{" + DOMAIN + "}}}}}", { id: org }).then(function (d) {
      (d.organization ? d.organization.domains.edges : []).forEach(function (e) { claims[e.node.domain] = e.node; });
      return listVerified();
    }, function () { return false; });
  if ($("add-domain")) {
    // show moves on to publishing d's record.
    var showRecord = function (d) {
      domain = claims[d.domain] = d;
      $("txt-name").value = d.txtRecordName;
      $("txt-value").value = d.verificationToken;
      $("add-domain").disabled = true;
      next("step-dns");
    };
    $("add-domain").addEventListener("click", function () {
      var name = $("domain-name").value.trim().toLowerCase().replace(/\.$/, "");
      // A domain claimed before (another tab, an earlier session) is
      // taken up, not added again.
      if (claims[name] && !claims[name].verified) { showRecord(claims[name]); return; }
      gql("mutation($o:ID!,$d:String!){addDomain(input:{organizationID:$o,domain:$d}){domain{" + DOMAIN + "}}}",
        { o: org, d: name }).then(function (d) { showRecord(d.addDomain.domain); });
    });
    $("verify-domain").addEventListener("click", function () {
      gql("mutation($id:ID!){verifyDomain(input:{id:$id}){domain{" + DOMAIN + "} failureReason failureCode}}", { id: domain.id }).then(function (d) {
        var r = d.verifyDomain, state = $("domain-state");
        claims[r.domain.domain] = r.domain;
        state.className = r.domain.verified ? "notice" : "error";
        state.dataset.code = r.failureCode || "";
        state.textContent = r.domain.verified ? msg.verified :
          msg.notVerified + " " + ((r.failureCode && word("dns", r.failureCode)) || r.failureReason || "");
        if (r.domain.verified) {
          listVerified();
          if ($("step-test")) { show("step-test"); show("step-activate"); }
        }
      });
    });
  }
})();
