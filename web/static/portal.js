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

  function say(text) { status.textContent = text; }
  function fail(text) { errorBox.textContent = text; errorBox.hidden = false; }
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
          var e = body.errors[0];
          var field = e.extensions && e.extensions.field ? e.extensions.field + ": " : "";
          throw new Error(field + e.message);
        }
        return body.data;
      });
    }).catch(function (err) { fail(msg.failed + " " + err.message); throw err; });
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
  var CONN = "id state protocol acsURL spEntityID spMetadataURL redirectURI";

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
    $("connection-state").textContent = c.state;
    show("step-configure");
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
        show("step-activate"); next("step-test");
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
  }

  // --- Domain verification ---
  var domain = null;
  if ($("add-domain")) {
    $("add-domain").addEventListener("click", function () {
      gql("mutation($o:ID!,$d:String!){addDomain(input:{organizationID:$o,domain:$d}){domain{id txtRecordName verificationToken verified}}}",
        { o: org, d: $("domain-name").value.trim() }).then(function (d) {
        domain = d.addDomain.domain;
        $("txt-name").value = domain.txtRecordName;
        $("txt-value").value = domain.verificationToken;
        $("add-domain").disabled = true;
        next("step-dns");
      });
    });
    $("verify-domain").addEventListener("click", function () {
      gql("mutation($id:ID!){verifyDomain(input:{id:$id}){domain{verified} failureReason}}", { id: domain.id }).then(function (d) {
        var r = d.verifyDomain, state = $("domain-state");
        state.className = r.domain.verified ? "notice" : "error";
        state.textContent = r.domain.verified ? msg.verified : msg.notVerified + " " + (r.failureReason || "");
      });
    });
  }
})();
