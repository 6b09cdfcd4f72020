/*
 * 政务智能助手 chat page: sends what the citizen types to the web channel's
 * webhook and renders the replies. No framework and no external resources.
 *
 * Safety rule: text from the user or the bot only ever reaches the page
 * through textContent or createTextNode; links are anchor elements built
 * here, and only for http(s) URLs. Never use innerHTML for that text.
 */
(function () {
  "use strict";

  var SENDER_KEY = "zw.chat.sender";
  var AGENT_KEY = "zw.chat.agent";
  var AGENT_POLL_MS = 3000;
  var HANDOFF_PATTERN = /^RG[0-9]{14}$/;
  var SENDER_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
  var REQUEST_TIMEOUT_MS = 60000;
  // Stops at whitespace, quotes, angle brackets and CJK text or punctuation,
  // so "来源：标题 https://example.gov.cn/a。" links only the URL.
  var URL_PATTERN =
    /https?:\/\/[^\s<>"'\u2018-\u201f\u2026\u2e80-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef]+/g;
  var TRAILING_PUNCTUATION = /[.,;:!?)\]}]+$/;
  var SOURCE_PREFIX = "来源";
  var FEEDBACK_ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;

  var TEXT = {
    unreachable: "无法连接到服务，请检查网络后重试。",
    timeout: "服务响应超时，请稍后再试。",
    unavailable: "服务暂时不可用，请稍后再试。",
    empty: "请输入您要咨询的问题。",
    failed: "未发送成功",
    bot: "助手：",
    user: "我：",
    choices: "可选回复",
    rate: "这条回答有帮助吗",
    helpful: "有帮助",
    unhelpful: "没有帮助",
    thanks: "感谢您的反馈",
    rateFailed: "反馈未发送成功",
  };

  var scroller = document.getElementById("scroller");
  var messages = document.getElementById("messages");
  var typing = document.getElementById("typing");
  var errorLine = document.getElementById("error");
  var form = document.getElementById("composer");
  var input = document.getElementById("input");
  var sendButton = document.getElementById("send");
  var webhookUrl = new URL("webhook", document.baseURI).href;
  var feedbackUrl = new URL("feedback", document.baseURI).href;
  var agentUrl = new URL("agent", document.baseURI).href;
  var senderId = loadSenderId();
  var pending = false;
  // The agent queue's handoff this page shows, and the last message shown.
  var agent = loadAgentCursor();
  var agentTimer = null;
  var agentPolling = false;

  function newSenderId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    var hex = Array.prototype.map
      .call(bytes, function (b) {
        return b.toString(16).padStart(2, "0");
      })
      .join("");
    return "web-" + hex;
  }

  function loadSenderId() {
    try {
      var stored = window.localStorage.getItem(SENDER_KEY);
      if (stored && SENDER_PATTERN.test(stored)) {
        return stored;
      }
      var fresh = newSenderId();
      window.localStorage.setItem(SENDER_KEY, fresh);
      return fresh;
    } catch (err) {
      // Storage is off (private mode or policy): one id for this page load.
      return newSenderId();
    }
  }

  function loadAgentCursor() {
    try {
      var stored = JSON.parse(window.localStorage.getItem(AGENT_KEY) || "null");
      if (stored && HANDOFF_PATTERN.test(stored.handoff) && Number.isInteger(stored.after)) {
        return stored;
      }
    } catch (err) {
      // Unreadable or no storage: start from nothing.
    }
    return { handoff: "", after: 0 };
  }

  function saveAgentCursor() {
    try {
      window.localStorage.setItem(AGENT_KEY, JSON.stringify(agent));
    } catch (err) {
      // Storage is off: the cursor lives as long as the page.
    }
  }

  // While a person owns the conversation (转人工), their replies are fetched
  // here; the webhook only carries the assistant's. Polls run while the
  // handoff is open, and after each message sent once one is known.
  async function pollAgent() {
    if (agentPolling) {
      return;
    }
    agentPolling = true;
    window.clearTimeout(agentTimer);
    agentTimer = null;
    var open = false;
    try {
      var url = new URL(agentUrl);
      url.searchParams.set("sender", senderId);
      url.searchParams.set("handoff", agent.handoff);
      url.searchParams.set("after", String(agent.after));
      var response = await window.fetch(url.href, { cache: "no-store" });
      var body = await response.json().catch(function () {
        return null;
      });
      if (response.ok && body && typeof body === "object") {
        if (Array.isArray(body.replies) && body.replies.length) {
          body.replies.forEach(renderReply);
          scrollToEnd();
        }
        open = body.status === "waiting" || body.status === "active";
        if (open && typeof body.handoff_no === "string" && HANDOFF_PATTERN.test(body.handoff_no)) {
          agent = { handoff: body.handoff_no, after: Number.isInteger(body.after) ? body.after : 0 };
        } else if (!open) {
          // Closed (or never there): everything it said has been shown.
          agent = { handoff: "", after: 0 };
        }
        saveAgentCursor();
      } else {
        // The queue is unreachable for now: try again later.
        open = agent.handoff !== "";
      }
    } catch (err) {
      open = agent.handoff !== "";
    } finally {
      agentPolling = false;
    }
    if (open) {
      agentTimer = window.setTimeout(pollAgent, AGENT_POLL_MS);
    }
  }

  function makeLink(url) {
    var parsed;
    try {
      parsed = new URL(url);
    } catch (err) {
      return null;
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      return null;
    }
    var link = document.createElement("a");
    link.href = parsed.href;
    link.textContent = url;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    return link;
  }

  function appendLinkified(parent, text) {
    var last = 0;
    var match;
    URL_PATTERN.lastIndex = 0;
    while ((match = URL_PATTERN.exec(text)) !== null) {
      var url = match[0].replace(TRAILING_PUNCTUATION, "");
      var link = url.length > 0 ? makeLink(url) : null;
      if (link === null) {
        continue;
      }
      if (match.index > last) {
        parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      }
      parent.appendChild(link);
      last = match.index + url.length;
    }
    if (last < text.length) {
      parent.appendChild(document.createTextNode(text.slice(last)));
    }
  }

  function appendRichText(parent, text) {
    text.split("\n").forEach(function (line, index) {
      if (index > 0) {
        parent.appendChild(document.createTextNode("\n"));
      }
      var target = parent;
      if (line.trim().indexOf(SOURCE_PREFIX) === 0) {
        target = document.createElement("span");
        target.className = "source";
        parent.appendChild(target);
      }
      appendLinkified(target, line);
    });
  }

  function createMessage(role) {
    var item = document.createElement("div");
    item.className = "message message-" + role;
    var label = document.createElement("span");
    label.className = "visually-hidden";
    label.textContent = role === "bot" ? TEXT.bot : TEXT.user;
    item.appendChild(label);
    messages.appendChild(item);
    return item;
  }

  function appendBubble(item, text, rich) {
    var bubble = document.createElement("div");
    bubble.className = "bubble";
    if (rich) {
      appendRichText(bubble, text);
    } else {
      bubble.textContent = text;
    }
    item.appendChild(bubble);
  }

  function scrollToEnd() {
    scroller.scrollTop = scroller.scrollHeight;
  }

  // A long answer is read from its start: keep the question at the top
  // instead of jumping to the answer's last line.
  function revealFrom(item) {
    var below = scroller.scrollHeight - item.offsetTop;
    if (below <= scroller.clientHeight) {
      scrollToEnd();
    } else {
      scroller.scrollTop = item.offsetTop - 8;
    }
  }

  function renderButtons(item, buttons) {
    var group = document.createElement("div");
    group.className = "buttons";
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", TEXT.choices);
    buttons.forEach(function (choice) {
      if (!choice || typeof choice.title !== "string" || typeof choice.payload !== "string") {
        return;
      }
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = choice.title;
      button.addEventListener("click", function (event) {
        onChoice(event, group, button, choice);
      });
      group.appendChild(button);
    });
    if (group.childElementCount > 0) {
      item.appendChild(group);
    }
  }

  function setGroupDisabled(group, disabled) {
    Array.prototype.forEach.call(group.querySelectorAll("button"), function (b) {
      b.disabled = disabled;
    });
  }

  function onChoice(event, group, button, choice) {
    if (pending) {
      return;
    }
    setGroupDisabled(group, true);
    button.setAttribute("aria-pressed", "true");
    // A keyboard click (detail 0) would leave focus on a disabled button.
    if (event.detail === 0) {
      input.focus();
    }
    send(choice.payload, choice.title).then(function (ok) {
      if (!ok) {
        button.removeAttribute("aria-pressed");
        setGroupDisabled(group, false);
      }
    });
  }

  // 👍/👎 under a knowledge-base answer; a 👎 tells the operators which
  // question went unanswered (docs/knowledge-base.md, review loop).
  function renderFeedback(item, feedbackId) {
    var group = document.createElement("div");
    group.className = "feedback";
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", TEXT.rate);
    [
      ["up", "👍", TEXT.helpful],
      ["down", "👎", TEXT.unhelpful],
    ].forEach(function (choice) {
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = choice[1];
      button.setAttribute("aria-label", choice[2]);
      button.addEventListener("click", function () {
        onVote(group, feedbackId, choice[0]);
      });
      group.appendChild(button);
    });
    item.appendChild(group);
  }

  function onVote(group, feedbackId, vote) {
    setGroupDisabled(group, true);
    postVote(feedbackId, vote).then(function (ok) {
      var note = document.createElement("span");
      note.className = "feedback-note";
      note.textContent = ok ? TEXT.thanks : TEXT.rateFailed;
      group.appendChild(note);
    });
  }

  async function postVote(feedbackId, vote) {
    try {
      var response = await window.fetch(feedbackUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ sender: senderId, feedback_id: feedbackId, vote: vote }),
        cache: "no-store",
      });
      return response.ok;
    } catch (err) {
      return false;
    }
  }

  // The reply that put the conversation in the agent queue carries the
  // handoff's number (channels/web_protocol.py).
  function handoffStarted(reply) {
    var number = reply && typeof reply === "object" ? reply.handoff_no : null;
    return typeof number === "string" && HANDOFF_PATTERN.test(number) ? number : "";
  }

  function renderReply(reply) {
    if (!reply || typeof reply !== "object") {
      return;
    }
    var text = typeof reply.text === "string" ? reply.text : "";
    var buttons = Array.isArray(reply.buttons) ? reply.buttons : [];
    // Images, attachments and custom payloads are not shown on this page.
    if (!text && buttons.length === 0) {
      return;
    }
    var item = createMessage("bot");
    if (text) {
      appendBubble(item, text, true);
    }
    renderButtons(item, buttons);
    if (typeof reply.feedback_id === "string" && FEEDBACK_ID_PATTERN.test(reply.feedback_id)) {
      renderFeedback(item, reply.feedback_id);
    }
  }

  function showError(text) {
    errorLine.textContent = text;
    errorLine.hidden = false;
  }

  function clearError() {
    errorLine.textContent = "";
    errorLine.hidden = true;
  }

  function setPending(value) {
    pending = value;
    sendButton.disabled = value;
    typing.hidden = !value;
    messages.setAttribute("aria-busy", value ? "true" : "false");
  }

  function ChatError(text) {
    this.text = text;
  }

  async function postMessage(text) {
    var controller = new AbortController();
    var timer = window.setTimeout(function () {
      controller.abort();
    }, REQUEST_TIMEOUT_MS);
    var response;
    try {
      response = await window.fetch(webhookUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ sender: senderId, message: text }),
        signal: controller.signal,
        cache: "no-store",
      });
    } catch (err) {
      throw new ChatError(controller.signal.aborted ? TEXT.timeout : TEXT.unreachable);
    } finally {
      window.clearTimeout(timer);
    }
    var body = await response.json().catch(function () {
      return null;
    });
    if (!response.ok) {
      // The channel's 4xx messages are Chinese and written for the citizen.
      var known = response.status < 500 && body && body.error;
      throw new ChatError(known && typeof known.message === "string" ? known.message : TEXT.unavailable);
    }
    if (!Array.isArray(body)) {
      throw new ChatError(TEXT.unavailable);
    }
    return body;
  }

  async function send(text, shown) {
    setPending(true);
    clearError();
    var item = createMessage("user");
    appendBubble(item, shown, false);
    scrollToEnd();
    try {
      var replies = await postMessage(text);
      replies.forEach(renderReply);
      var started = replies.map(handoffStarted).filter(Boolean).pop();
      if (started && started !== agent.handoff) {
        agent = { handoff: started, after: 0 };
        saveAgentCursor();
      }
      if (agent.handoff) {
        pollAgent();
      }
      return true;
    } catch (err) {
      var status = document.createElement("span");
      status.className = "message-status";
      status.textContent = TEXT.failed;
      item.appendChild(status);
      showError(err instanceof ChatError ? err.text : TEXT.unavailable);
      return false;
    } finally {
      setPending(false);
      revealFrom(item);
    }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) {
      showError(TEXT.empty);
      input.focus();
      return;
    }
    if (pending) {
      return;
    }
    input.value = "";
    send(text, text).then(function (ok) {
      // Nothing the citizen typed is lost: put it back to retry.
      if (!ok && !input.value) {
        input.value = text;
      }
    });
  });

  // TODO(#4): show the earlier turns after a reload (the tracker keeps them).
  setPending(false);
  if (agent.handoff) {
    pollAgent();
  }
})();
