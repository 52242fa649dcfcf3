/**
 * The one script of Latchkey's pages, served from our origin (/assets/passkey.js) and allowed by a
 * per-page CSP nonce (ui/security-headers.ts); every other script stays refused. It runs the WebAuthn
 * ceremony a passkey form describes and posts the result as the form's `credential` field
 * (PublicKeyCredential JSON, W3C WebAuthn Level 3 §5.1.8). Nothing leaves the page but that form.
 *
 * A passkey form: `<form data-passkey="get|create" data-options="{JSON options}" hidden>` with a hidden
 * `credential` input and an element `.passkey-error`. Forms stay hidden where WebAuthn is missing.
 *
 * It also runs "Show password" (issue 19): `<label hidden><input type="checkbox" data-show-password="ID">`
 * shows the password field ID as text while checked, and back as a password before the form is sent
 * (so a browser's password manager sees a password field). Without the script the box stays hidden.
 */
export const PASSKEY_SCRIPT = `'use strict';
(function () {
  function toBytes(text) {
    var base64 = text.replace(/-/g, '+').replace(/_/g, '/');
    var binary = atob(base64 + '==='.slice((base64.length + 3) % 4));
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }
  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = '';
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
  }
  function descriptors(list) {
    return (list || []).map(function (c) { return { type: c.type || 'public-key', id: toBytes(c.id), transports: c.transports }; });
  }
  function creationOptions(o) {
    var out = Object.assign({}, o, { challenge: toBytes(o.challenge), excludeCredentials: descriptors(o.excludeCredentials) });
    out.user = Object.assign({}, o.user, { id: toBytes(o.user.id) });
    return out;
  }
  function requestOptions(o) {
    var out = Object.assign({}, o, { challenge: toBytes(o.challenge) });
    if (o.allowCredentials) out.allowCredentials = descriptors(o.allowCredentials);
    return out;
  }
  function asJson(credential) {
    var r = credential.response;
    var json = { id: credential.id, rawId: toText(credential.rawId), type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {}, response: {} };
    json.response.clientDataJSON = toText(r.clientDataJSON);
    if (r.attestationObject) {
      json.response.attestationObject = toText(r.attestationObject);
      json.response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      json.response.authenticatorData = toText(r.authenticatorData);
      json.response.signature = toText(r.signature);
      if (r.userHandle) json.response.userHandle = toText(r.userHandle);
    }
    return json;
  }
  var toggles = document.querySelectorAll('input[data-show-password]');
  for (var t = 0; t < toggles.length; t++) {
    (function (toggle) {
      var field = document.getElementById(toggle.getAttribute('data-show-password'));
      if (!field) return;
      toggle.parentNode.hidden = false;
      toggle.addEventListener('change', function () { field.type = toggle.checked ? 'text' : 'password'; });
      if (field.form) field.form.addEventListener('submit', function () { field.type = 'password'; });
    })(toggles[t]);
  }
  var supported = typeof window.PublicKeyCredential === 'function' && !!navigator.credentials;
  var forms = document.querySelectorAll('form[data-passkey]');
  for (var i = 0; i < forms.length; i++) {
    (function (form) {
      if (!supported) return;
      form.hidden = false;
      form.addEventListener('submit', function (event) {
        event.preventDefault();
        var error = form.querySelector('.passkey-error');
        if (error) error.hidden = true;
        var options = JSON.parse(form.getAttribute('data-options'));
        var ceremony = form.getAttribute('data-passkey') === 'create'
          ? navigator.credentials.create({ publicKey: creationOptions(options) })
          : navigator.credentials.get({ publicKey: requestOptions(options) });
        ceremony.then(function (credential) {
          form.querySelector('input[name=credential]').value = JSON.stringify(asJson(credential));
          HTMLFormElement.prototype.submit.call(form);
        }, function () {
          if (error) error.hidden = false;
        });
      });
    })(forms[i]);
  }
})();
`;
