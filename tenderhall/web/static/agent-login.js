// Sign-in through the bidder's signing agent (docs/signing-agent.md): a nonce from the platform,
// the agent's signature over the platform's login message (confirmed in the agent's window), then
// the signature and certificate to the platform, which answers with a cookie session.
(function () {
  "use strict";
  var form = document.getElementById("agent-login");
  if (!form) {
    return;
  }
  var button = document.getElementById("agent-login-button");
  var status = document.getElementById("agent-login-status");
  var english = document.documentElement.lang === "en";
  var agentUrl = form.getAttribute("data-agent-url").replace(/\/+$/, "");

  function text(name) {
    var el = document.querySelector('#agent-login-messages [data-msg="' + name + '"]');
    return el ? el.textContent.trim() : name;
  }

  function show(message, detail, isError) {
    status.textContent = "";
    var box = document.createElement("div");
    box.className = isError ? "flash error" : "flash";
    if (isError) {
      box.setAttribute("role", "alert");
    }
    var p = document.createElement("p");
    p.textContent = message + (detail ? " " + detail : "");
    box.appendChild(p);
    status.appendChild(box);
  }

  function Refusal(message, detail, code) {
    this.message = message;
    this.detail = detail || "";
    this.code = code || "";
  }

  async function body(response) {
    try {
      return await response.json();
    } catch (e) {
      return {};
    }
  }

  function problemText(problem) {
    // platform problem details carry both languages; the agent's errors carry zh/en
    if (problem.detail_zh || problem.detail_en) {
      return english ? problem.detail_en : problem.detail_zh;
    }
    if (problem.zh || problem.en) {
      return english ? problem.en : problem.zh;
    }
    return problem.detail || "";
  }

  async function signIn() {
    show(text("nonce"));
    var nonceResponse = await fetch("/api/auth/certificate/nonce", { method: "POST", credentials: "omit" });
    var nonceBody = await body(nonceResponse);
    if (!nonceResponse.ok) {
      throw new Refusal(text("nonce-failed"), problemText(nonceBody), nonceBody.code);
    }
    show(text("confirm"));
    var signed;
    try {
      signed = await fetch(agentUrl + "/v1/sign", {
        method: "POST",
        mode: "cors",
        credentials: "omit",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          purpose: "login",
          nonce: nonceBody.nonce,
          platform: form.getAttribute("data-platform"),
        }),
      });
    } catch (e) {
      // not running, or running without this platform on its allow-list (no CORS answer)
      throw new Refusal(text("unreachable"), "", "agent_unreachable");
    }
    var signedBody = await body(signed);
    if (!signed.ok) {
      throw new Refusal(text("agent-refused"), problemText(signedBody), signedBody.error);
    }
    show(text("signing-in"));
    var login = await fetch(form.getAttribute("action"), {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "X-CSRFToken": form.querySelector('input[name="_csrf_token"]').value,
      },
      body: JSON.stringify({
        certificate_pem: signedBody.certificate_pem,
        signature: signedBody.signature,
        nonce: nonceBody.nonce,
        intermediates: signedBody.intermediates || [],
        next: form.getAttribute("data-next") || "/",
      }),
    });
    var loginBody = await body(login);
    if (!login.ok) {
      throw new Refusal(text("platform-refused"), problemText(loginBody), loginBody.reason || loginBody.code);
    }
    window.location.assign(loginBody.location || "/");
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    button.disabled = true;
    signIn().catch(function (err) {
      button.disabled = false;
      if (err instanceof Refusal) {
        show(err.message, err.detail, true);
        status.setAttribute("data-reason", err.code);
      } else {
        show(text("platform-refused"), String(err), true);
      }
    });
  });
})();
