// passkey.js: WebAuthn on the hosted pages, without dependencies and
// without inline script (the CSP allows scripts from 'self' only).
//
// A form with data-passkey="login" or "second_factor" signs in: its button
// asks the authenticator for an assertion, and when the form says
// data-conditional (the identifier step) the email field also offers
// passkeys as autofill (conditional mediation).
// A form with data-passkey="register" creates a passkey. Each form names
// its options endpoint in data-options and has a hidden "credential"
// field, which gets the PublicKeyCredential as JSON before the form is
// submitted: the server's answer is an ordinary page. data-error is the
// sentence (in the page's language) shown when the browser's ceremony fails.
(function () {
  'use strict';

  function toBuffer(s) {
    s = s.replace(/-/g, '+').replace(/_/g, '/');
    while (s.length % 4) s += '=';
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function toBase64URL(buf) {
    var bytes = new Uint8Array(buf), s = '';
    for (var i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function supported() {
    return !!(window.PublicKeyCredential && navigator.credentials && window.fetch);
  }

  // fetchOptions posts body to the form's options endpoint; the answer
  // also sets the ceremony cookie the form's post is checked against.
  function fetchOptions(form, body) {
    return fetch(form.getAttribute('data-options'), {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body)
    }).then(function (res) {
      if (!res.ok) throw new Error('options: ' + res.status);
      return res.json();
    });
  }

  function descriptors(list) {
    return (list || []).map(function (c) {
      return { type: c.type, id: toBuffer(c.id), transports: c.transports };
    });
  }

  function requestOptions(o) {
    var pk = o.publicKey;
    pk.challenge = toBuffer(pk.challenge);
    if (pk.allowCredentials) pk.allowCredentials = descriptors(pk.allowCredentials);
    return pk;
  }

  function creationOptions(o) {
    var pk = o.publicKey;
    pk.challenge = toBuffer(pk.challenge);
    pk.user.id = toBuffer(pk.user.id);
    if (pk.excludeCredentials) pk.excludeCredentials = descriptors(pk.excludeCredentials);
    return pk;
  }

  function common(c, response) {
    return JSON.stringify({
      id: c.id, rawId: toBase64URL(c.rawId), type: c.type,
      authenticatorAttachment: c.authenticatorAttachment || undefined,
      clientExtensionResults: c.getClientExtensionResults ? c.getClientExtensionResults() : {},
      response: response
    });
  }

  function assertionJSON(c) {
    var r = c.response;
    return common(c, {
      clientDataJSON: toBase64URL(r.clientDataJSON),
      authenticatorData: toBase64URL(r.authenticatorData),
      signature: toBase64URL(r.signature),
      userHandle: r.userHandle ? toBase64URL(r.userHandle) : undefined
    });
  }

  function attestationJSON(c) {
    var r = c.response;
    return common(c, {
      clientDataJSON: toBase64URL(r.clientDataJSON),
      attestationObject: toBase64URL(r.attestationObject),
      transports: r.getTransports ? r.getTransports() : []
    });
  }

  // say shows message in the form's status line (made on first use).
  function say(form, message) {
    var p = form.querySelector('.passkey-status');
    if (!p) {
      p = document.createElement('p');
      p.className = 'error passkey-status';
      p.setAttribute('role', 'alert');
      form.insertBefore(p, form.firstChild);
    }
    p.textContent = message;
  }

  function field(form, name) {
    var el = form.elements[name];
    return el ? el.value : '';
  }

  function setupSignIn(form, conditional) {
    var body = { authRequest: field(form, 'authRequest'), csrf: field(form, 'csrf') };
    var pending = null;   // the AbortController of the ceremony in progress
    var options = null;   // the options request in flight, if any
    function get(mediation) {
      if (pending) pending.abort();
      var ctl = new AbortController();
      pending = ctl;
      // One ceremony at a time: the newest options answer must be the
      // last to set the ceremony cookie.
      options = (options || Promise.resolve()).catch(function () {}).then(function () {
        return fetchOptions(form, body);
      });
      return options.then(function (o) {
        if (ctl.signal.aborted) return null;
        var req = { publicKey: requestOptions(o), signal: ctl.signal };
        if (mediation) req.mediation = mediation;
        return navigator.credentials.get(req);
      }).then(function (c) {
        if (!c) return;
        form.elements.credential.value = assertionJSON(c);
        form.submit();
      });
    }
    form.hidden = false;
    var button = form.querySelector('button');
    button.addEventListener('click', function () {
      get(null).catch(function (e) {
        if (e && e.name === 'AbortError') return;
        say(form, form.getAttribute('data-error'));
      });
    });
    if (conditional && PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable().then(function (ok) {
        if (ok) get('conditional').catch(function () {});
      }).catch(function () {});
    }
  }

  function setupRegister(form) {
    var button = form.querySelector('#passkey-create');
    button.addEventListener('click', function () {
      button.disabled = true;
      fetchOptions(form, { csrf: field(form, 'csrf') }).then(function (o) {
        return navigator.credentials.create({ publicKey: creationOptions(o) });
      }).then(function (c) {
        form.elements.credential.value = attestationJSON(c);
        form.submit();
      }).catch(function () {
        button.disabled = false;
        say(form, form.getAttribute('data-error'));
      });
    });
  }

  var forms = document.querySelectorAll('form[data-passkey]');
  for (var i = 0; i < forms.length; i++) {
    var form = forms[i], kind = form.getAttribute('data-passkey');
    if (!supported()) {
      var note = document.getElementById('passkey-unsupported');
      if (kind === 'register' && note) note.hidden = false;
      continue;
    }
    if (kind === 'login') setupSignIn(form, form.hasAttribute('data-conditional'));
    else if (kind === 'second_factor') setupSignIn(form, false);
    else if (kind === 'register') setupRegister(form);
  }
})();
