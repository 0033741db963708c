/*
 * The web simulator: a LINE-like chat that talks to /simulator/api as one or more
 * simulated respondents. Plain JS, no build step, nothing from the network but our own API.
 *
 * A respondent is whoever holds a token the server issued (POST /simulator/api/respondents);
 * the token goes in the X-Simulator-Token header, never in a URL. The page knows each of its
 * respondents by a local id of its own, which is all the URL shows (#r=<id>, per tab).
 *
 * Everything a tab needs to come back tomorrow is in localStorage, under "lampang-sim:":
 *   respondents        [{id, token, name, n}]   this browser's respondents, in order made
 *   current            id                       the respondent last looked at
 *   t:<id>             [entry]                  the transcript, both sides (see below)
 *   seen:<id>          number                   the id of the last bot message shown
 *   draft:<id>         string                   what was typed but not sent yet
 *
 * A transcript entry is one of
 *   {type: "bot", id, at, text, buttons}                       a message from the bot
 *   {type: "user", key, at, kind, text, body, status}          something the respondent sent
 *   {type: "hello", key, at, body, status, checkFirst}         the greeting request (not shown)
 * and a user/hello entry's status is queued → sending → sent, or failed (retry re-queues it).
 * Server text is only ever put in the page with textContent.
 */
(function () {
  "use strict";

  var PREFIX = "lampang-sim:";
  var LOCAL_ID = /^[A-Za-z0-9_-]{1,64}$/; // the page's own name for a respondent, not a secret
  var POLL_MS = 1500;
  var TIMEOUT_MS = 20000;
  var PROGRESS = /^(ข้อ|Question) \d+\/\d+$/;
  // As bot/line/render.py's MAX_STACKED: more choices than this stay one scrolling row.
  var MAX_STACKED = 8;
  var root = document.getElementById("app");
  var TOKEN_HEADER = "X-Simulator-Token";
  var api = {
    respondents:
      (root && root.getAttribute("data-respondents-url")) || "/simulator/api/respondents",
    send: (root && root.getAttribute("data-send-url")) || "/simulator/api/send",
    messages: (root && root.getAttribute("data-messages-url")) || "/simulator/api/messages",
  };

  // Storage ----------------------------------------------------------------------------------

  var memory = {};
  var storageWorks = (function () {
    try {
      var probe = PREFIX + "probe";
      window.localStorage.setItem(probe, "1");
      window.localStorage.removeItem(probe);
      return true;
    } catch (error) {
      return false;
    }
  })();

  function load(key, fallback) {
    var raw = null;
    try {
      raw = storageWorks ? window.localStorage.getItem(PREFIX + key) : memory[key];
    } catch (error) {
      raw = memory[key];
    }
    if (raw === null || raw === undefined) return fallback;
    try {
      return JSON.parse(raw);
    } catch (error) {
      return fallback;
    }
  }

  function forgetKey(key) {
    delete memory[key];
    if (!storageWorks) return;
    try {
      window.localStorage.removeItem(PREFIX + key);
    } catch (error) {
      /* nothing to free then */
    }
  }

  function save(key, value) {
    var raw = JSON.stringify(value);
    memory[key] = raw;
    if (!storageWorks) return;
    try {
      window.localStorage.setItem(PREFIX + key, raw);
    } catch (error) {
      console.warn("simulator: could not save to localStorage", error);
    }
  }

  function respondents() {
    var list = load("respondents", []);
    // Respondents saved before tokens existed have none: the server would not know them.
    return Array.isArray(list)
      ? list.filter(function (r) { return r && LOCAL_ID.test(r.id) && typeof r.token === "string"; })
      : [];
  }

  function findRespondent(id) {
    return respondents().filter(function (r) { return r.id === id; })[0] || null;
  }

  function transcript(id) {
    var list = load("t:" + id, []);
    return Array.isArray(list) ? list : [];
  }

  function saveTranscript(id, list) {
    save("t:" + id, list);
    if (id === current) render();
  }

  /** Change one entry of a transcript, reading it fresh so other tabs' changes are kept. */
  function updateEntry(id, key, change) {
    var list = transcript(id);
    for (var i = 0; i < list.length; i++) {
      if (list[i].key === key) {
        change(list[i]);
        saveTranscript(id, list);
        return list[i];
      }
    }
    return null;
  }

  // Ids and respondents ------------------------------------------------------------------------

  function randomId() {
    var cryptoApi = window.crypto || window.msCrypto;
    if (cryptoApi && typeof cryptoApi.randomUUID === "function") {
      try {
        return cryptoApi.randomUUID();
      } catch (error) {
        /* not a secure context: fall through */
      }
    }
    var bytes = new Uint8Array(16);
    if (cryptoApi && typeof cryptoApi.getRandomValues === "function") {
      cryptoApi.getRandomValues(bytes);
    } else {
      for (var i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
    }
    return Array.prototype.map
      .call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); })
      .join("");
  }

  /** Ask the server for a new respondent; resolves to it once this browser keeps its token. */
  function createRespondent() {
    // a JSON body: another site's page cannot send one without the browser asking us first
    return request("POST", api.respondents, {}).then(function (reply) {
      if (!reply || typeof reply.token !== "string") throw new Error("no token issued");
      var list = respondents();
      var n = list.reduce(function (max, r) { return Math.max(max, r.n || 0); }, 0) + 1;
      var made = { id: randomId(), token: reply.token, name: "ผู้ตอบ " + n, n: n };
      list.push(made);
      save("respondents", list);
      // A new respondent has never talked: greet them, as opening the chat in LINE does.
      var hello = {
        type: "hello",
        key: randomId(),
        at: new Date().toISOString(),
        body: { hello: true },
        status: "queued",
      };
      save("t:" + made.id, [hello]);
      return made;
    });
  }

  /** Erased at their request: this device keeps only the tap that asked and the goodbye, and
   * they go on as a stranger under the new token (what they type next is greeted anew). */
  function startOver(id, key, reply) {
    var list = respondents();
    list.forEach(function (r) { if (r.id === id) r.token = reply.token; });
    save("respondents", list);
    save("seen:" + id, 0);
    forgetKey("draft:" + id);
    var asked = transcript(id).filter(function (e) { return e.key === key; });
    asked.forEach(function (e) { e.status = "sent"; });
    var at = new Date().toISOString();
    saveTranscript(id, asked.concat(reply.farewell.map(function (message, index) {
      // Negative ids: never one of the server's, so the new respondent's replies are not hidden.
      return { type: "bot", id: -(index + 1), at: at, text: String(message.text || ""), buttons: [], card: null };
    })));
  }

  /** The server does not know this respondent (its database was reset, say): let them go. */
  function forget(id) {
    save("respondents", respondents().filter(function (r) { return r.id !== id; }));
    ["t:", "seen:", "draft:"].forEach(function (key) { forgetKey(key + id); });
    if (id !== current) {
      renderRespondents();
      return;
    }
    current = null;
    nodes = new Map();
    els.log.replaceChildren();
    renderQuickReplies(null);
    renderRespondents();
    start();
  }

  /** Whether the server refused the respondent's token (403); if so, forget them. */
  function gone(id, error) {
    if (!error || error.status !== 403) return false;
    forget(id);
    return true;
  }

  // Talking to the server ----------------------------------------------------------------------

  function request(method, url, body, token) {
    var controller = typeof AbortController === "function" ? new AbortController() : null;
    var timer = controller ? setTimeout(function () { controller.abort(); }, TIMEOUT_MS) : null;
    var options = {
      method: method,
      headers: { Accept: "application/json" },
      cache: "no-store",
      credentials: "same-origin",
    };
    if (controller) options.signal = controller.signal;
    if (token) options.headers[TOKEN_HEADER] = token;
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(url, options)
      .then(function (response) {
        if (!response.ok) {
          var error = new Error("HTTP " + response.status);
          error.status = response.status;
          throw error;
        }
        return response.json();
      })
      .finally(function () {
        if (timer) clearTimeout(timer);
      });
  }

  var fetchChains = {};
  var fetchesInFlight = {};

  /** Fetch the bot's new messages for a respondent; calls for one respondent run one at a time. */
  function fetchMessages(id) {
    fetchesInFlight[id] = (fetchesInFlight[id] || 0) + 1;
    var run = function () {
      var respondent = findRespondent(id);
      if (!respondent) return Promise.reject(new Error("not one of this browser's respondents"));
      var seen = Number(load("seen:" + id, 0)) || 0;
      var url = api.messages + "?after=" + encodeURIComponent(seen);
      return request("GET", url, undefined, respondent.token).then(function (reply) {
        addBotMessages(id, (reply && reply.messages) || []);
      });
    };
    var chain = (fetchChains[id] || Promise.resolve()).catch(function () {}).then(run);
    fetchChains[id] = chain;
    return chain.then(
      function () {
        fetchesInFlight[id] -= 1;
        if (id === current) showFetchProblem(false);
      },
      function (error) {
        fetchesInFlight[id] -= 1;
        if (!gone(id, error) && id === current) showFetchProblem(true);
        throw error;
      }
    );
  }

  function addBotMessages(id, messages) {
    if (!messages.length) return;
    var list = transcript(id);
    var known = {};
    list.forEach(function (entry) {
      if (entry.type === "bot") known[entry.id] = true;
    });
    var seen = Number(load("seen:" + id, 0)) || 0;
    var added = false;
    messages.forEach(function (message) {
      var messageId = Number(message.id);
      if (!isFinite(messageId) || known[messageId]) return;
      known[messageId] = true;
      list.push({
        type: "bot",
        id: messageId,
        at: message.at || new Date().toISOString(),
        text: typeof message.text === "string" ? message.text : "",
        buttons: Array.isArray(message.buttons) ? message.buttons : [],
        card: message.card && Array.isArray(message.card.bars) ? message.card : null,
      });
      seen = Math.max(seen, messageId);
      added = true;
    });
    save("seen:" + id, seen);
    if (added) {
      if (id === current) stickToBottom = true;
      saveTranscript(id, list);
    }
  }

  var pumping = {};
  var busy = {};

  /** Send a respondent's queued entries in order, fetching the replies after each. */
  function pump(id) {
    if (pumping[id]) return;
    var next = transcript(id).filter(function (e) {
      return (e.type === "user" || e.type === "hello") && e.status === "queued";
    })[0];
    if (!next) return;
    pumping[id] = true;
    setBusy(id, 1);
    updateEntry(id, next.key, function (e) { e.status = "sending"; });

    var before = next.checkFirst ? fetchMessages(id) : Promise.resolve();
    before
      .then(function () {
        if (next.checkFirst && transcript(id).some(function (e) { return e.type === "bot"; })) {
          return null; // the interrupted hello did arrive: the bot has greeted them already
        }
        var respondent = findRespondent(id);
        if (!respondent) throw new Error("not one of this browser's respondents");
        // The entry's key doubles as the message id, so a retried send is handled only once.
        var body = Object.assign({ id: next.key }, next.body);
        return request("POST", api.send, body, respondent.token);
      })
      .then(function (reply) {
        if (reply && Array.isArray(reply.farewell) && typeof reply.token === "string") {
          startOver(id, next.key, reply);
          return null;
        }
        updateEntry(id, next.key, function (e) { e.status = "sent"; delete e.checkFirst; });
        return fetchMessages(id).catch(function () {
          /* the poll will pick the replies up; the fetch notice says so */
        });
      })
      .then(
        function () {
          pumping[id] = false;
          setBusy(id, -1);
          pump(id);
        },
        function (error) {
          pumping[id] = false;
          setBusy(id, -1);
          if (!findRespondent(id) || gone(id, error)) return;
          // Keep the conversation in order: this one and anything queued after it wait for retry.
          var list = transcript(id);
          var after = false;
          list.forEach(function (e) {
            if (e.key === next.key) after = true;
            if (after && (e.key === next.key || e.status === "queued")) e.status = "failed";
          });
          saveTranscript(id, list);
        }
      );
  }

  function retry(id, key) {
    var list = transcript(id);
    var from = false;
    list.forEach(function (e) {
      if (e.key === key) from = true;
      if (from && e.status === "failed") e.status = "queued";
    });
    saveTranscript(id, list);
    pump(id);
  }

  function enqueue(id, kind, text, body) {
    if (!id) return; // no respondent yet: the server has not issued one
    var list = transcript(id);
    list.push({
      type: "user",
      key: randomId(),
      at: new Date().toISOString(),
      kind: kind,
      text: text,
      body: body,
      status: "queued",
    });
    stickToBottom = true;
    saveTranscript(id, list);
    pump(id);
  }

  function setBusy(id, delta) {
    busy[id] = Math.max(0, (busy[id] || 0) + delta);
    if (id === current) els.typing.hidden = !(busy[id] > 0);
    if (id === current && busy[id] > 0) scrollToBottom();
  }

  // Rendering ----------------------------------------------------------------------------------

  var els = {};
  var current = null;
  var stickToBottom = true;

  function two(n) {
    return (n < 10 ? "0" : "") + n;
  }

  /** Read a server timestamp; one without a zone (SQLite drops it) is UTC. */
  function parseTime(iso) {
    if (typeof iso !== "string") return new Date(NaN);
    if (/T\d\d:\d\d(:\d\d(\.\d+)?)?$/.test(iso)) iso += "Z";
    return new Date(iso);
  }

  function clock(iso) {
    var when = parseTime(iso);
    if (isNaN(when.getTime())) return "";
    return two(when.getHours()) + ":" + two(when.getMinutes());
  }

  function dayKey(iso) {
    var when = parseTime(iso);
    if (isNaN(when.getTime())) return "";
    return when.getFullYear() + "-" + two(when.getMonth() + 1) + "-" + two(when.getDate());
  }

  function dayLabel(iso) {
    var when = parseTime(iso);
    var today = new Date();
    var yesterday = new Date(today.getTime() - 86400000);
    if (dayKey(iso) === dayKey(today.toISOString())) return "วันนี้";
    if (dayKey(iso) === dayKey(yesterday.toISOString())) return "เมื่อวาน";
    try {
      return when.toLocaleDateString("th-TH", { day: "numeric", month: "short", year: "numeric" });
    } catch (error) {
      return when.toDateString();
    }
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function avatar() {
    var node = el("div", "avatar", "ลป");
    node.setAttribute("aria-hidden", "true");
    return node;
  }

  function botRow(entry) {
    var row = el("div", "row row-bot");
    var stack = el("div", "stack");
    var bubble = el("div", "bubble bubble-bot");
    bubble.setAttribute("data-testid", "bot-bubble");
    bubble.setAttribute("data-message-id", String(entry.id));
    var text = entry.text || "";
    var newline = text.indexOf("\n");
    var first = newline < 0 ? text : text.slice(0, newline);
    if (PROGRESS.test(first)) {
      // The text stays as sent (textContent is the message); only the progress line is styled.
      bubble.appendChild(el("span", "progress", first));
      text = newline < 0 ? "" : text.slice(newline);
    }
    if (entry.card) {
      // The text ends with bars drawn in characters for plain channels; here we draw real ones.
      var blank = text.indexOf("\n\n");
      bubble.appendChild(document.createTextNode(blank < 0 ? text : text.slice(0, blank)));
      bubble.appendChild(resultsCard(entry.card));
    } else if (text) {
      bubble.appendChild(document.createTextNode(text));
    }
    stack.appendChild(bubble);
    stack.appendChild(meta(entry.at));
    row.appendChild(avatar());
    row.appendChild(stack);
    return row;
  }

  /** A results card: one bar per characteristic (1 to 5), its change and meaning. */
  function resultsCard(card) {
    var box = el("div", "card");
    box.setAttribute("data-testid", "results-card");
    card.bars.forEach(function (bar) {
      var score = Number(bar.score) || 0;
      var head = el("div", "card-head");
      head.appendChild(el("span", "card-label", String(bar.label || "")));
      var figure = el("span", "card-score", score.toFixed(1));
      var change = Number(bar.change);
      if (bar.change !== null && bar.change !== undefined && isFinite(change)) {
        var rounded = Math.round(change * 10) / 10;
        var kind = rounded > 0 ? "gain" : rounded < 0 ? "drop" : "same";
        var words = rounded > 0 ? "+" + rounded.toFixed(1) : rounded < 0 ? rounded.toFixed(1) : "±0";
        figure.appendChild(el("span", "card-change " + kind, " (" + words + ")"));
      }
      head.appendChild(figure);
      var track = el("div", "card-track");
      var fill = el("div", "card-fill");
      fill.style.width = Math.max(0, Math.min(100, ((score - 1) / 4) * 100)) + "%";
      track.appendChild(fill);
      box.appendChild(head);
      box.appendChild(track);
      if (bar.meaning) box.appendChild(el("div", "card-meaning", String(bar.meaning)));
    });
    if (card.strongest) box.appendChild(el("div", "card-note", String(card.strongest)));
    if (card.weakest) box.appendChild(el("div", "card-note", String(card.weakest)));
    return box;
  }

  function userRow(entry) {
    var row = el("div", "row row-user " + (entry.status || "sent"));
    var stack = el("div", "stack");
    var bubble;
    if (entry.kind === "sticker") {
      bubble = el("div", "bubble bubble-user bubble-sticker");
      var art = document.getElementById("sticker-art").content.querySelector("svg");
      bubble.appendChild(art.cloneNode(true));
    } else {
      bubble = el("div", "bubble bubble-user", entry.text || "");
    }
    bubble.setAttribute("data-testid", "user-bubble");
    stack.appendChild(bubble);
    var info = meta(entry.status === "sent" ? entry.at : null);
    if (entry.status === "sent") info.insertBefore(el("span", "read", "อ่านแล้ว"), info.firstChild);
    stack.appendChild(info);
    if (entry.status === "failed") stack.appendChild(failedNote(entry));
    row.appendChild(stack);
    return row;
  }

  function failedNote(entry) {
    var note = el("div", "send-note");
    note.setAttribute("role", "alert");
    note.setAttribute("data-testid", "send-failed");
    note.appendChild(el("span", "", "ส่งไม่สำเร็จ "));
    var button = el("button", "", "ลองอีกครั้ง");
    button.type = "button";
    button.setAttribute("data-testid", "retry");
    button.addEventListener("click", function () { retry(current, entry.key); });
    note.appendChild(button);
    return note;
  }

  function meta(at) {
    var node = el("div", "meta");
    if (at) node.appendChild(el("time", "", clock(at)));
    return node;
  }

  /** Nodes already made for the current respondent, by what they show (see signature()). */
  var nodes = new Map();
  var quickRepliesShown = null;

  function signature(entry) {
    if (entry.type === "bot") return "bot:" + entry.id;
    return "user:" + entry.key + ":" + entry.status + ":" + (entry.status === "sent" ? entry.at : "");
  }

  function nodeFor(key, make) {
    var node = nodes.get(key);
    if (!node) {
      node = make();
      nodes.set(key, node);
    }
    return node;
  }

  /** Show the current respondent's transcript, touching only what changed (usually the end). */
  function render() {
    if (!current) return;
    var list = transcript(current);
    var chat = els.chat;
    var nearBottom = chat.scrollHeight - chat.scrollTop - chat.clientHeight < 80;
    var wanted = [];
    var used = new Set();
    var lastDay = "";
    var lastShown = null;
    var failedHello = null;
    list.forEach(function (entry) {
      if (entry.type === "hello") {
        if (entry.status === "failed") failedHello = entry;
        return;
      }
      if (entry.type !== "bot" && entry.type !== "user") return;
      var day = dayKey(entry.at);
      if (day > lastDay) {
        // Days only move forward, so a phone clock a little off never makes chips flicker.
        var label = dayLabel(entry.at);
        var dayKeyed = "day:" + day + ":" + label;
        wanted.push(nodeFor(dayKeyed, function () { return el("div", "day", label); }));
        used.add(dayKeyed);
        lastDay = day;
      }
      var key = signature(entry);
      wanted.push(
        nodeFor(key, function () { return entry.type === "bot" ? botRow(entry) : userRow(entry); })
      );
      used.add(key);
      lastShown = entry;
    });
    var log = els.log;
    var have = log.children;
    var same = 0;
    while (same < wanted.length && same < have.length && have[same] === wanted[same]) same++;
    while (have.length > same) log.removeChild(log.lastChild);
    for (var i = same; i < wanted.length; i++) log.appendChild(wanted[i]);
    nodes.forEach(function (_, key) {
      if (!used.has(key)) nodes.delete(key);
    });
    renderQuickReplies(lastShown && lastShown.type === "bot" ? lastShown : null);
    renderHelloProblem(failedHello);
    els.typing.hidden = !(busy[current] > 0);
    if (nearBottom || stickToBottom) scrollToBottom();
    stickToBottom = false;
  }

  /** LINE-style quick replies: the buttons of the last message, if it is the bot's. */
  function renderQuickReplies(message) {
    var shown = message ? current + ":" + message.id : null;
    if (shown === quickRepliesShown) return;
    quickRepliesShown = shown;
    var row = els.quickReplies;
    row.replaceChildren();
    var buttons = message && Array.isArray(message.buttons) ? message.buttons : [];
    buttons.forEach(function (button) {
      if (!button || typeof button.data !== "string") return;
      var label = typeof button.label === "string" ? button.label : "";
      var node = el("button", "quick-reply", label);
      node.type = "button";
      node.title = label;
      node.setAttribute("data-testid", "quick-reply");
      node.addEventListener("click", function () {
        enqueue(current, "tap", label, { data: button.data });
      });
      row.appendChild(node);
    });
    row.hidden = !row.childElementCount;
    row.classList.remove("stacked");
    // Like LINE here: a few choices that would need a sideways scroll are stacked instead.
    if (row.childElementCount <= MAX_STACKED && row.scrollWidth > row.clientWidth) {
      row.classList.add("stacked");
    }
    row.scrollLeft = 0;
  }

  var notice = { hello: null, fetch: false, create: false };

  function renderHelloProblem(entry) {
    notice.hello = entry;
    renderNotice();
  }

  function showFetchProblem(show) {
    if (notice.fetch === show) return;
    notice.fetch = show;
    renderNotice();
  }

  function showCreateProblem(show) {
    notice.create = show;
    renderNotice();
  }

  function renderNotice() {
    if (notice.create) {
      els.noticeText.textContent = "สร้างผู้ตอบไม่สำเร็จ ";
    } else if (notice.hello) {
      els.noticeText.textContent = "ส่งไม่สำเร็จ ";
    } else if (notice.fetch) {
      els.noticeText.textContent = "รับข้อความไม่สำเร็จ ";
    }
    els.notice.hidden = !(notice.create || notice.hello || notice.fetch);
  }

  function scrollToBottom() {
    var chat = els.chat;
    chat.scrollTop = chat.scrollHeight;
  }

  function renderRespondents() {
    var select = els.select;
    select.replaceChildren();
    respondents().forEach(function (r) {
      var option = el("option", "", r.name);
      option.value = r.id;
      option.title = r.id;
      select.appendChild(option);
    });
    if (current) select.value = current;
  }

  // Choosing a respondent ----------------------------------------------------------------------

  function choose(id) {
    if (current && current !== id) save("draft:" + current, els.input.value);
    current = id;
    save("current", id);
    try {
      var url = new URL(window.location.href);
      url.searchParams.delete("user"); // from before tokens: it no longer names anyone
      url.hash = "r=" + id;
      window.history.replaceState(null, "", url.toString());
    } catch (error) {
      /* an old browser: the URL just does not follow */
    }
    notice.fetch = false;
    nodes = new Map();
    quickRepliesShown = null;
    els.log.replaceChildren();
    els.input.value = load("draft:" + id, "") || "";
    resizeInput();
    renderRespondents();
    stickToBottom = true;
    render();
    pump(id);
    fetchMessages(id).catch(function () {});
  }

  /** The respondent named in this tab's URL (#r=<id>), if it is one of this browser's. */
  function askedRespondent() {
    var hash = window.location.hash;
    var id = hash.indexOf("#r=") === 0 ? hash.slice(3) : "";
    return findRespondent(id) ? id : null;
  }

  /** The respondent this tab should show: its URL's, the last one looked at, or the first. */
  function startingRespondent() {
    var asked = askedRespondent();
    if (asked) return asked;
    var last = load("current", null);
    if (last && findRespondent(last)) return last;
    var list = respondents();
    return list.length ? list[0].id : null;
  }

  /** Show the starting respondent, or make this browser its first one. */
  function start() {
    var id = startingRespondent();
    if (id) {
      choose(id);
    } else {
      newRespondent();
    }
  }

  /** Have the server issue a new respondent and switch to them; a failure offers a retry. */
  function newRespondent() {
    showCreateProblem(false);
    return createRespondent().then(
      function (made) { choose(made.id); },
      function () { showCreateProblem(true); }
    );
  }

  /** Requests cut short by closing the tab may or may not have arrived: let the person decide. */
  function settleInterrupted() {
    respondents().forEach(function (r) {
      var list = transcript(r.id);
      var changed = false;
      list.forEach(function (e) {
        if (e.status !== "sending") return;
        changed = true;
        if (e.type === "hello") {
          e.status = "queued";
          e.checkFirst = true;
        } else {
          e.status = "failed";
        }
      });
      if (changed) save("t:" + r.id, list);
    });
  }

  // Input --------------------------------------------------------------------------------------

  function sendTyped() {
    var text = els.input.value;
    if (!text.trim() || !current) {
      els.input.focus();
      return;
    }
    text = text.replace(/\s+$/, "");
    enqueue(current, "text", text, { text: text });
    els.input.value = "";
    save("draft:" + current, "");
    resizeInput();
    els.input.focus();
  }

  function resizeInput() {
    var input = els.input;
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight + 2, 140) + "px";
    els.send.classList.toggle("empty", !input.value.trim());
  }

  function poll() {
    if (!current || document.visibilityState === "hidden") return;
    if (fetchesInFlight[current] > 0) return;
    fetchMessages(current).catch(function () {});
  }

  function init() {
    els.chat = document.getElementById("chat");
    els.log = document.getElementById("chat-log");
    els.typing = document.getElementById("typing");
    els.quickReplies = document.getElementById("quick-replies");
    els.notice = document.getElementById("notice");
    els.noticeText = document.getElementById("notice-text");
    els.input = document.getElementById("message-input");
    els.send = document.getElementById("send");
    els.select = document.getElementById("respondent-select");

    document.getElementById("input-bar").addEventListener("submit", function (event) {
      event.preventDefault();
      sendTyped();
    });
    els.input.addEventListener("keydown", function (event) {
      if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) {
        return;
      }
      event.preventDefault();
      sendTyped();
    });
    els.input.addEventListener("input", function () {
      if (current) save("draft:" + current, els.input.value);
      resizeInput();
    });
    document.getElementById("sticker").addEventListener("click", function () {
      enqueue(current, "sticker", "", { kind: "sticker" });
    });
    document.getElementById("new-respondent").addEventListener("click", function () {
      newRespondent().then(function () { els.input.focus(); });
    });
    els.select.addEventListener("change", function () {
      if (findRespondent(els.select.value)) choose(els.select.value);
    });
    document.getElementById("notice-retry").addEventListener("click", function () {
      if (notice.create) {
        newRespondent();
        return;
      }
      if (notice.hello) retry(current, notice.hello.key);
      fetchMessages(current).catch(function () {});
    });
    window.addEventListener("hashchange", function () {
      var id = askedRespondent();
      if (id && id !== current) choose(id);
    });
    document.addEventListener("visibilitychange", poll);
    window.addEventListener("storage", function (event) {
      if (!event.key || event.key.indexOf(PREFIX) !== 0) return;
      var key = event.key.slice(PREFIX.length);
      if (key === "respondents") renderRespondents();
      if (key === "t:" + current) render();
    });

    settleInterrupted();
    start();
    setInterval(poll, POLL_MS);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
