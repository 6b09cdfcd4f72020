/*
 * 12345 agent console: the agent writes down the call as it goes, the
 * assist API (channels/assist.py) answers with suggested answers, the
 * scenario's checklist and the personal data it recognised.
 * No framework and no external resources.
 *
 * Safety rule: text from the call or from the API only ever reaches the
 * page through textContent; links are anchor elements built here, and only
 * for http(s) URLs. Never use innerHTML for that text.
 *
 * Privacy: the transcript lives in this page's memory only and is gone on
 * reload; the agent's token is kept in sessionStorage (this tab only).
 */
(function () {
  "use strict";

  var TOKEN_KEY = "zw.assist.token";
  // The same shapes channels/assist_protocol.py accepts.
  var TOKEN_PATTERN = /^[A-Za-z0-9._~+/=-]{1,256}$/;
  var CALL_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
  var DOC_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;
  var MAX_TURNS = 50;
  var MAX_TURN_CHARS = 1000;
  var REQUEST_TIMEOUT_MS = 20000;
  var CALLER = "caller";
  var AGENT = "agent";

  var TEXT = {
    caller: "来电人",
    agent: "坐席",
    noToken: "请先输入坐席令牌。",
    badToken: "坐席令牌格式不对，请检查后重新输入。",
    reenterToken: "坐席令牌无效或已过期，请重新输入坐席令牌。",
    badCallId: "通话编号应为 1-64 位字母、数字、_ 或 -。",
    emptyTurn: "请先输入这一句的内容。",
    longTurn: "这一句太长了，请控制在 1000 字以内。",
    noCaller: "请先记录来电人的话。",
    network: "网络异常，请重试",
    timeout: "服务响应超时，请重试。",
    unavailable: "服务暂时不可用，请稍后再试。",
    confirmClear: "清空本次通话的记录和建议？",
    copy: "复制",
    copied: "已复制",
    selected: "已选中，请按 Ctrl+C 复制",
    wrong: "建议有误",
    recorded: "已记录",
    notRecorded: "未记录，请重试",
    source: "来源：",
    department: "办理部门：",
    content: "内容：",
    score: "匹配度 ",
    actions: "第{rank}条建议的操作",
    noSuggestions: "没有找到可用的建议。",
    locality: "适用地区：",
    answers: "已了解",
    items: "适用事项",
    materials: "所需材料",
    openQuestions: "还需询问",
    noScenario: "尚未识别到办事场景。",
    noFields: "尚未识别到个人信息。",
    masked: "（已脱敏）",
    badChecksum: "（校验码不符，请核实）",
    turnRef: "第{n}句",
    notPermitted: "该令牌无权查看完整个人信息，以下已脱敏显示。",
  };

  // Which one fact of a guide a suggestion answers (knowledge_base/fields.py).
  var FIELD_NAMES = {
    materials: "申请材料",
    conditions: "受理条件",
    time_limit: "办理时限",
    fee: "收费",
    location: "办理地点",
    online: "网上办理",
  };

  var OUTCOME_NOTES = {
    clarify: "匹配不够确定，请向来电人确认具体事项后选用。",
    no_answer: "低置信度，请核实。以下内容可能不符合来电人的问题。",
    unavailable: "知识库暂时不可用，请稍后点“刷新建议”。",
  };

  var tokenInput = document.getElementById("token");
  var callIdInput = document.getElementById("call-id");
  var unmaskedBox = document.getElementById("unmasked");
  var sessionForm = document.getElementById("session");
  var errorLine = document.getElementById("error");
  var turnList = document.getElementById("turns");
  var noTurns = document.getElementById("no-turns");
  var scroller = document.getElementById("transcript-scroller");
  var composer = document.getElementById("composer");
  var turnText = document.getElementById("turn-text");
  var addAgentButton = document.getElementById("add-agent");
  var refreshButton = document.getElementById("refresh");
  var clearButton = document.getElementById("clear");
  var loading = document.getElementById("loading");
  var region = document.getElementById("suggestions-region");
  var outcomeNote = document.getElementById("outcome");
  var suggestionList = document.getElementById("suggestions");
  var noSuggestions = document.getElementById("no-suggestions");
  var missingButton = document.getElementById("missing");
  var missingStatus = document.getElementById("missing-status");
  var scenarioBox = document.getElementById("scenario");
  var fieldsBox = document.getElementById("fields");
  var suggestUrl = new URL("v1/suggest", document.baseURI).href;
  var feedbackUrl = new URL("v1/feedback", document.baseURI).href;

  var turns = [];
  // The question and call id of the suggestions shown, for feedback on them.
  var shown = null;
  // Only the newest suggest request may change the page.
  var requestSeq = 0;
  var inFlight = null;

  function AssistError(text) {
    this.text = text;
  }

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (whole, key) {
      return String(values[key]);
    });
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  }

  function clearChildren(node) {
    while (node.firstChild) {
      node.removeChild(node.firstChild);
    }
  }

  function text(value) {
    return typeof value === "string" ? value : "";
  }

  // ---- errors and session -------------------------------------------------

  function showError(message) {
    errorLine.textContent = message;
    errorLine.hidden = false;
  }

  function clearError() {
    errorLine.textContent = "";
    errorLine.hidden = true;
  }

  function loadToken() {
    try {
      var stored = window.sessionStorage.getItem(TOKEN_KEY);
      if (stored && TOKEN_PATTERN.test(stored)) {
        tokenInput.value = stored;
      }
    } catch (err) {
      // Storage is off: the agent types the token on each load.
    }
  }

  function saveToken() {
    var value = tokenInput.value.trim();
    try {
      if (value && TOKEN_PATTERN.test(value)) {
        window.sessionStorage.setItem(TOKEN_KEY, value);
      } else {
        window.sessionStorage.removeItem(TOKEN_KEY);
      }
    } catch (err) {
      // Storage is off: the token lives as long as the page.
    }
  }

  function markInvalid(input, invalid) {
    if (invalid) {
      input.setAttribute("aria-invalid", "true");
    } else {
      input.removeAttribute("aria-invalid");
    }
  }

  function rejectSession(input, message) {
    markInvalid(input, true);
    showError(message);
    input.focus();
    return null;
  }

  // The token and call id to send, or null (with the reason shown).
  function readSession() {
    var token = tokenInput.value.trim();
    if (!token) {
      return rejectSession(tokenInput, TEXT.noToken);
    }
    if (!TOKEN_PATTERN.test(token)) {
      return rejectSession(tokenInput, TEXT.badToken);
    }
    var callId = callIdInput.value.trim();
    if (callId && !CALL_ID_PATTERN.test(callId)) {
      return rejectSession(callIdInput, TEXT.badCallId);
    }
    return { token: token, callId: callId || null };
  }

  // ---- HTTP ---------------------------------------------------------------

  function errorMessage(status, body) {
    if (status === 401) {
      markInvalid(tokenInput, true);
      try {
        window.sessionStorage.removeItem(TOKEN_KEY);
      } catch (err) {
        // Nothing stored to forget.
      }
      tokenInput.focus();
      tokenInput.select();
      return TEXT.reenterToken;
    }
    // The channel's 4xx messages are Chinese and written for the agent.
    var known = status < 500 && body && body.error;
    return known && typeof known.message === "string" ? known.message : TEXT.unavailable;
  }

  async function postJson(url, payload, token, controller) {
    var timedOut = false;
    var timer = window.setTimeout(function () {
      timedOut = true;
      controller.abort();
    }, REQUEST_TIMEOUT_MS);
    var response;
    try {
      response = await window.fetch(url, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Authorization: "Bearer " + token,
        },
        body: JSON.stringify(payload),
        signal: controller.signal,
        cache: "no-store",
        credentials: "omit",
      });
    } catch (err) {
      if (controller.signal.aborted && !timedOut) {
        throw err; // superseded by a newer request: say nothing
      }
      throw new AssistError(timedOut ? TEXT.timeout : TEXT.network);
    } finally {
      window.clearTimeout(timer);
    }
    var body = await response.json().catch(function () {
      return null;
    });
    if (!response.ok) {
      throw new AssistError(errorMessage(response.status, body));
    }
    markInvalid(tokenInput, false);
    return body;
  }

  // ---- transcript ---------------------------------------------------------

  function renderTurn(turn, index) {
    var item = element("li", "turn turn-" + turn.role);
    item.id = "turn-" + (index + 1);
    item.appendChild(element("span", "turn-role", turn.role === CALLER ? TEXT.caller : TEXT.agent));
    item.appendChild(element("span", "turn-text", turn.text));
    turnList.appendChild(item);
    noTurns.hidden = true;
    scroller.scrollTop = scroller.scrollHeight;
  }

  function addTurn(role) {
    var said = turnText.value.trim();
    if (!said) {
      showError(TEXT.emptyTurn);
      turnText.focus();
      return;
    }
    if (said.length > MAX_TURN_CHARS) {
      showError(TEXT.longTurn);
      turnText.focus();
      return;
    }
    clearError();
    turns.push({ role: role, text: said });
    renderTurn(turns[turns.length - 1], turns.length - 1);
    turnText.value = "";
    turnText.focus();
    if (turns.some(isCaller)) {
      requestSuggestions();
    }
  }

  function isCaller(turn) {
    return turn.role === CALLER;
  }

  function clearCall() {
    if (turns.length && !window.confirm(TEXT.confirmClear)) {
      return;
    }
    requestSeq += 1;
    if (inFlight) {
      inFlight.abort();
    }
    setLoading(false);
    turns = [];
    clearChildren(turnList);
    noTurns.hidden = false;
    callIdInput.value = "";
    markInvalid(callIdInput, false);
    turnText.value = "";
    clearError();
    renderEmpty();
    turnText.focus();
  }

  // ---- suggestions --------------------------------------------------------

  function setLoading(value) {
    loading.hidden = !value;
    region.setAttribute("aria-busy", value ? "true" : "false");
  }

  async function requestSuggestions() {
    if (!turns.some(isCaller)) {
      showError(TEXT.noCaller);
      turnText.focus();
      return;
    }
    var session = readSession();
    if (session === null) {
      return;
    }
    // The API reads at most the last MAX_TURNS turns; field turn numbers
    // count from the first one sent.
    var sent = turns.slice(-MAX_TURNS);
    var offset = turns.length - sent.length;
    if (!sent.some(isCaller)) {
      showError(TEXT.noCaller);
      return;
    }
    var payload = { turns: sent.map(function (t) { return { role: t.role, text: t.text }; }) };
    if (session.callId) {
      payload.call_id = session.callId;
    }
    payload.unmasked = unmaskedBox.checked;

    requestSeq += 1;
    var seq = requestSeq;
    if (inFlight) {
      inFlight.abort();
    }
    var controller = new AbortController();
    inFlight = controller;
    setLoading(true);
    try {
      var body = await postJson(suggestUrl, payload, session.token, controller);
      if (seq !== requestSeq) {
        return;
      }
      clearError();
      renderAnswer(body, session.callId, offset, payload.unmasked);
    } catch (err) {
      if (seq === requestSeq) {
        showError(err instanceof AssistError ? err.text : TEXT.unavailable);
      }
    } finally {
      if (seq === requestSeq) {
        inFlight = null;
        setLoading(false);
      }
    }
  }

  function renderEmpty() {
    shown = null;
    outcomeNote.hidden = true;
    outcomeNote.textContent = "";
    clearChildren(suggestionList);
    noSuggestions.hidden = false;
    missingButton.disabled = true;
    missingStatus.textContent = "";
    clearChildren(scenarioBox);
    scenarioBox.appendChild(element("p", "empty-note", TEXT.noScenario));
    clearChildren(fieldsBox);
    fieldsBox.appendChild(element("p", "empty-note", TEXT.noFields));
  }

  function renderAnswer(body, callId, offset, askedUnmasked) {
    if (!body || typeof body !== "object" || !Array.isArray(body.suggestions)) {
      throw new AssistError(TEXT.unavailable);
    }
    renderEmpty();
    var query = text(body.query);
    shown = query ? { query: query, callId: callId } : null;
    missingButton.disabled = shown === null;

    var note = OUTCOME_NOTES[body.outcome];
    var suggestions = body.suggestions.filter(function (s) {
      return s && typeof s === "object" && text(s.title) && text(s.answer);
    });
    if (!note && suggestions.length === 0) {
      note = TEXT.noSuggestions;
    }
    if (note) {
      outcomeNote.textContent = note;
      outcomeNote.hidden = false;
    }
    suggestions.forEach(function (s, index) {
      suggestionList.appendChild(renderSuggestion(s, index));
    });
    noSuggestions.hidden = suggestions.length > 0 || Boolean(note);

    renderScenario(body.scenario);
    renderFields(body.fields, body.unmasked === true, askedUnmasked, offset);
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

  function renderSuggestion(s, index) {
    var rank = Number.isInteger(s.rank) ? s.rank : index + 1;
    var item = element("li", "suggestion");
    var titleId = "suggestion-" + requestSeq + "-" + index;

    var title = element("h3", "suggestion-title");
    title.id = titleId;
    title.appendChild(element("span", "suggestion-rank", rank + "."));
    title.appendChild(document.createTextNode(s.title));
    item.appendChild(title);

    var meta = element("p", "suggestion-meta");
    if (text(s.department)) {
      meta.appendChild(element("span", "", TEXT.department + s.department));
    }
    if (FIELD_NAMES[s.field]) {
      meta.appendChild(element("span", "", TEXT.content + FIELD_NAMES[s.field]));
    }
    if (typeof s.score === "number" && isFinite(s.score)) {
      meta.appendChild(element("span", "", TEXT.score + s.score.toFixed(2)));
    }
    if (meta.childElementCount) {
      item.appendChild(meta);
    }

    // What 复制 copies, and what is selected when the clipboard is off.
    var content = element("div", "suggestion-content");
    content.appendChild(element("p", "suggestion-answer", s.answer));
    var link = text(s.source_url) ? makeLink(s.source_url) : null;
    if (link) {
      var source = element("p", "suggestion-source", TEXT.source);
      source.appendChild(link);
      content.appendChild(source);
    }
    item.appendChild(content);

    var actions = element("div", "suggestion-actions");
    actions.setAttribute("role", "group");
    actions.setAttribute("aria-label", format(TEXT.actions, { rank: rank }));
    var status = element("span", "action-status");
    var copy = element("button", "button-secondary", TEXT.copy);
    copy.type = "button";
    copy.setAttribute("aria-describedby", titleId);
    copy.addEventListener("click", function () {
      onCopy(copyText(s.answer, link ? s.source_url : ""), content, status);
    });
    var wrong = element("button", "button-quiet", TEXT.wrong);
    wrong.type = "button";
    wrong.setAttribute("aria-describedby", titleId);
    var docId = text(s.doc_id);
    wrong.disabled = shown === null || !DOC_ID_PATTERN.test(docId);
    wrong.addEventListener("click", function () {
      var score = typeof s.score === "number" && s.score >= 0 && s.score <= 1 ? s.score : null;
      onFeedback(wrong, status, { verdict: "wrong", doc_id: docId, score: score });
    });
    actions.appendChild(copy);
    actions.appendChild(wrong);
    actions.appendChild(status);
    item.appendChild(actions);
    return item;
  }

  function copyText(answer, url) {
    if (!url || answer.indexOf(url) !== -1) {
      return answer;
    }
    return answer + "\n" + TEXT.source + url;
  }

  function setStatus(status, message, failed) {
    status.textContent = message;
    status.classList.toggle("is-failed", Boolean(failed));
  }

  async function onCopy(copied, content, status) {
    setStatus(status, "");
    try {
      if (!navigator.clipboard || typeof navigator.clipboard.writeText !== "function") {
        throw new Error("no clipboard");
      }
      await navigator.clipboard.writeText(copied);
      setStatus(status, TEXT.copied);
    } catch (err) {
      // No permission or no secure context: select it for Ctrl+C instead.
      var range = document.createRange();
      range.selectNodeContents(content);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      setStatus(status, TEXT.selected);
    }
  }

  async function onFeedback(button, status, said) {
    if (shown === null) {
      return;
    }
    var session = readSession();
    if (session === null) {
      return;
    }
    var payload = { question: shown.query, verdict: said.verdict };
    if (shown.callId) {
      payload.call_id = shown.callId;
    }
    if (said.doc_id) {
      payload.doc_id = said.doc_id;
      if (said.score !== null) {
        payload.score = said.score;
      }
    }
    button.disabled = true;
    setStatus(status, "");
    try {
      await postJson(feedbackUrl, payload, session.token, new AbortController());
      setStatus(status, TEXT.recorded);
    } catch (err) {
      button.disabled = false;
      setStatus(status, TEXT.notRecorded, true);
      showError(err instanceof AssistError ? err.text : TEXT.unavailable);
    }
  }

  // ---- scenario and fields ------------------------------------------------

  function appendList(parent, heading, values, className) {
    if (!values.length) {
      return;
    }
    parent.appendChild(element("h4", "", heading));
    var list = element("ul", className || "");
    values.forEach(function (value) {
      list.appendChild(value);
    });
    parent.appendChild(list);
  }

  function textItems(values) {
    return (Array.isArray(values) ? values : []).filter(text).map(function (value) {
      return element("li", "", value);
    });
  }

  function renderScenario(scenario) {
    if (!scenario || typeof scenario !== "object" || !text(scenario.name)) {
      return;
    }
    clearChildren(scenarioBox);
    scenarioBox.appendChild(element("h3", "", scenario.name));
    if (text(scenario.locality)) {
      scenarioBox.appendChild(element("p", "scenario-locality", TEXT.locality + scenario.locality));
    }

    var answers = (Array.isArray(scenario.answers) ? scenario.answers : []).filter(function (a) {
      return a && text(a.label) && text(a.value);
    });
    if (answers.length) {
      scenarioBox.appendChild(element("h4", "", TEXT.answers));
      var table = element("dl", "scenario-answers");
      answers.forEach(function (a) {
        table.appendChild(element("dt", "", a.label));
        table.appendChild(element("dd", "", a.value));
      });
      scenarioBox.appendChild(table);
    }

    var items = (Array.isArray(scenario.items) ? scenario.items : [])
      .filter(function (i) {
        return i && text(i.name);
      })
      .map(function (i) {
        var li = element("li", "", i.name);
        if (text(i.department)) {
          li.appendChild(element("span", "department", "（" + i.department + "）"));
        }
        return li;
      });
    appendList(scenarioBox, TEXT.items, items);
    appendList(scenarioBox, TEXT.materials, textItems(scenario.materials));
    appendList(scenarioBox, TEXT.openQuestions, textItems(scenario.open_questions), "open-questions");
  }

  function renderFields(fields, unmasked, askedUnmasked, offset) {
    var usable = (Array.isArray(fields) ? fields : []).filter(function (f) {
      return f && text(f.label) && text(f.value);
    });
    if (!usable.length) {
      return;
    }
    clearChildren(fieldsBox);
    if (askedUnmasked && !unmasked) {
      fieldsBox.appendChild(element("p", "fields-note", TEXT.notPermitted));
    }
    var list = element("ul");
    usable.forEach(function (f) {
      var li = element("li");
      li.appendChild(element("strong", "", f.label + "："));
      li.appendChild(element("span", "field-value", f.value));
      if (!unmasked) {
        li.appendChild(element("span", "masked-note", TEXT.masked));
      }
      if (f.checked === false) {
        li.appendChild(element("span", "masked-note", TEXT.badChecksum));
      }
      if (Number.isInteger(f.turn) && f.turn >= 0) {
        li.appendChild(element("span", "field-turn", " · " + format(TEXT.turnRef, { n: offset + f.turn + 1 })));
      }
      list.appendChild(li);
    });
    fieldsBox.appendChild(list);
  }

  // ---- events -------------------------------------------------------------

  composer.addEventListener("submit", function (event) {
    event.preventDefault();
    addTurn(CALLER);
  });

  addAgentButton.addEventListener("click", function () {
    addTurn(AGENT);
  });

  // Enter: caller; Ctrl/⌘+Enter: agent; Shift+Enter: a new line. Enter that
  // confirms a Chinese input method's candidate is left alone.
  turnText.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || event.isComposing || event.keyCode === 229) {
      return;
    }
    if (event.shiftKey || event.altKey) {
      return;
    }
    event.preventDefault();
    addTurn(event.ctrlKey || event.metaKey ? AGENT : CALLER);
  });

  refreshButton.addEventListener("click", function () {
    requestSuggestions();
  });

  clearButton.addEventListener("click", clearCall);

  missingButton.addEventListener("click", function () {
    onFeedback(missingButton, missingStatus, { verdict: "missing", doc_id: "", score: null });
  });

  tokenInput.addEventListener("input", function () {
    markInvalid(tokenInput, false);
    saveToken();
  });

  callIdInput.addEventListener("input", function () {
    markInvalid(callIdInput, false);
  });

  unmaskedBox.addEventListener("change", function () {
    if (turns.some(isCaller)) {
      requestSuggestions();
    }
  });

  // Enter in the token or call id field: ask again with the new values.
  sessionForm.addEventListener("submit", function (event) {
    event.preventDefault();
  });
  [tokenInput, callIdInput].forEach(function (input) {
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.isComposing && turns.some(isCaller)) {
        event.preventDefault();
        requestSuggestions();
      }
    });
  });

  loadToken();
  renderEmpty();
})();
