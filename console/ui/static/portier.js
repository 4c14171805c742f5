// Portier console script: drives WebAuthn. Buttons marked
// data-webauthn="login|step_up|device|register|enroll_device" ask the
// server for options, turn the base64url fields into ArrayBuffers for
// navigator.credentials, and send the answer back (base64url again) with
// the page's CSRF token (<meta name="csrf">). Messages come translated in
// the data-msg-* attributes of #status.
(function () {
  "use strict";
  function toBuf(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) { s += "="; }
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
    return out.buffer;
  }
  function toB64(buf) {
    var bytes = new Uint8Array(buf), s = "";
    for (var i = 0; i < bytes.length; i++) { s += String.fromCharCode(bytes[i]); }
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  var meta = document.querySelector("meta[name=csrf]");
  var csrf = meta ? meta.getAttribute("content") : "";
  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (!r.ok) { throw new Error((j.error && j.error.message) || text("failed", "Something went wrong. Try again.")); }
        return j;
      });
    });
  }
  function extensions(cred) {
    return cred.getClientExtensionResults ? cred.getClientExtensionResults() : {};
  }
  function assert(begin, finish, body) {
    return post(begin, body).then(function (c) {
      var o = c.options.publicKey;
      o.challenge = toBuf(o.challenge);
      (o.allowCredentials || []).forEach(function (d) { d.id = toBuf(d.id); });
      return navigator.credentials.get({ publicKey: o }).then(function (cred) {
        var r = cred.response;
        return post(finish, { ceremony: c.ceremony, credential: {
          id: cred.id, rawId: toB64(cred.rawId), type: cred.type,
          clientExtensionResults: extensions(cred),
          response: {
            authenticatorData: toB64(r.authenticatorData), clientDataJSON: toB64(r.clientDataJSON),
            signature: toB64(r.signature), userHandle: r.userHandle ? toB64(r.userHandle) : null
          }
        } });
      });
    });
  }
  function create(begin, finish, body) {
    return post(begin, body).then(function (c) {
      var o = c.options.publicKey;
      o.challenge = toBuf(o.challenge);
      o.user.id = toBuf(o.user.id);
      (o.excludeCredentials || []).forEach(function (d) { d.id = toBuf(d.id); });
      return navigator.credentials.create({ publicKey: o }).then(function (cred) {
        var r = cred.response;
        return post(finish, { ceremony: c.ceremony, credential: {
          id: cred.id, rawId: toB64(cred.rawId), type: cred.type,
          authenticatorAttachment: cred.authenticatorAttachment || undefined,
          clientExtensionResults: extensions(cred),
          response: {
            attestationObject: toB64(r.attestationObject), clientDataJSON: toB64(r.clientDataJSON),
            transports: r.getTransports ? r.getTransports() : []
          }
        } });
      });
    });
  }
  var status = document.getElementById("status");
  function text(name, fallback) {
    return (status && status.getAttribute("data-msg-" + name)) || fallback;
  }
  function show(msg) {
    var el = status;
    if (!el) { return; }
    el.textContent = msg;
    el.hidden = false;
  }
  var buttons = document.querySelectorAll("[data-webauthn]");
  Array.prototype.forEach.call(buttons, function (btn) {
    btn.addEventListener("click", function (ev) {
      ev.preventDefault();
      if (!window.PublicKeyCredential) { show(text("unsupported", "This browser does not support security keys or passkeys.")); return; }
      btn.disabled = true;
      var kind = btn.getAttribute("data-webauthn"), run;
      if (kind === "login") {
        run = assert("/auth/webauthn/login/begin", "/auth/webauthn/login/finish",
          { pending: btn.getAttribute("data-pending") || "", rd: btn.getAttribute("data-rd") || "" });
      } else if (kind === "device") {
        run = assert("/auth/webauthn/device/begin", "/auth/webauthn/device/finish",
          { rd: btn.getAttribute("data-rd") || "" });
      } else if (kind === "step_up") {
        run = assert("/auth/webauthn/step_up/begin", "/auth/webauthn/step_up/finish",
          { rd: btn.getAttribute("data-rd") || "" });
      } else if (kind === "enroll_device") {
        run = create("/enroll/browser/begin", "/enroll/browser/finish", {});
      } else {
        var name = document.getElementById("key-name");
        run = create("/auth/webauthn/register/begin", "/auth/webauthn/register/finish",
          { name: name ? name.value : "" }).then(function () { return { redirect: location.href }; });
      }
      run.then(function (r) {
        if (r && r.redirect) { location.assign(r.redirect); }
      }).catch(function (e) {
        show(e && e.name === "NotAllowedError" ? text("cancelled", "The security key request was cancelled or timed out. Try again.") : (e && e.message) || text("failed", "Something went wrong. Try again."));
        btn.disabled = false;
      });
    });
  });
})();

// The policy editor's lint as you type: a textarea marked data-lint="URL"
// is sent there (debounced) with the page's CSRF token; the errors, each
// with its line, are shown in #policy-lint. Nothing is saved.
(function () {
  "use strict";
  var area = document.querySelector("textarea[data-lint]");
  var out = document.getElementById("policy-lint");
  if (!area || !out) { return; }
  var meta = document.querySelector("meta[name=csrf]");
  var csrf = meta ? meta.getAttribute("content") : "";
  var timer = null, seq = 0;
  function line(cls, s) {
    var p = document.createElement("p");
    if (cls) { p.className = cls; }
    p.textContent = s;
    out.appendChild(p);
  }
  function lint() {
    var idInput = document.querySelector("#policy-editor input[name=id]");
    var id = area.getAttribute("data-id") || (idInput ? idInput.value : "");
    var mine = ++seq;
    fetch(area.getAttribute("data-lint") + "?id=" + encodeURIComponent(id), {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/yaml", "X-CSRF-Token": csrf },
      body: area.value
    }).then(function (r) { return r.json(); }).then(function (j) {
      if (mine !== seq) { return; }
      out.textContent = "";
      if (j.ok) { line("note", out.getAttribute("data-msg-ok")); return; }
      var prefix = out.getAttribute("data-msg-line") || "Line %d:";
      (j.errors || []).forEach(function (e) {
        line("err", (e.line ? prefix.replace("%d", e.line) + " " : "") + e.message);
      });
      if (j.error) { line("err", j.error.message); }
    }).catch(function () {});
  }
  area.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(lint, 400);
  });
})();

// Copy buttons: a button marked data-copy="ID" copies the value of the
// input with that id (a link shown once) and says so on the button.
(function () {
  document.querySelectorAll("button[data-copy]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var input = document.getElementById(btn.getAttribute("data-copy"));
      if (!input) { return; }
      input.select();
      var done = function () { btn.textContent = btn.getAttribute("data-msg-copied") || "Copied"; };
      if (navigator.clipboard) {
        navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand("copy"); done(); });
      } else {
        document.execCommand("copy");
        done();
      }
    });
  });
})();
