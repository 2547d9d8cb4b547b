/*
 * Conductor web chat widget. One tag embeds it on any page:
 *   <script src="https://bot.example.com/webchat/widget.js" data-server="https://bot.example.com"></script>
 * Options are data-* attributes on that tag (docs/webchat.md). It talks to the server's WebSocket channel
 * (/webhooks/websocket/ws) and falls back to the REST channel (/webhooks/rest/webhook) when the socket cannot
 * connect. Everything it shows from the bot goes through textContent: bot text is never parsed as HTML.
 */
(() => {
  "use strict";

  const script = document.currentScript;
  if (!script || document.getElementById("conductor-webchat")) return;

  const MAX_KEPT = 200;            // messages kept in storage
  const FIRST_RETRY_MS = 500;      // reconnect backoff: 0.5 s, 1 s, 2 s, ... up to MAX_RETRY_MS
  const MAX_RETRY_MS = 15000;
  const PING_EVERY_MS = 20000;     // a silent socket is pinged, and dropped when it stays silent
  const SILENCE_LIMIT_MS = 35000;
  const TYPING_LIMIT_MS = 30000;   // the typing indicator never stays longer than this without news
  const REST_RETRY_MS = 5000;      // REST-only mode: how soon a message that could not be sent is tried again
  const RETRY_STATUSES = [502, 503, 504]; // REST answers that mean "not now" (other failures are not retried)
  const SVG = "http://www.w3.org/2000/svg";
  const ICONS = {
    chat: "M5 3h14a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H10l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z",
    close: "M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12 19 17.6 17.6 19 12 13.4 6.4 19 5 17.6 10.6 12 5 6.4z",
    send: "M3 20.5 21.5 12 3 3.5 3 10l12 2-12 2z",
  };

  // --- settings -------------------------------------------------------------------------------------------
  const data = script.dataset;
  const scriptUrl = new URL(script.src, location.href);
  const server = new URL(data.server || scriptUrl.origin, location.href).href.replace(/\/+$/, "");
  const config = {
    title: data.title || "Chat",
    placeholder: data.placeholder || "Type a message…",
    initialPayload: data.initialPayload || "",
    mode: data.mode === "page" ? "page" : "launcher",
    startOpen: data.open === "true",
    transport: data.transport === "rest" ? "rest" : "websocket",
    storage: data.storage === "session" ? "session" : "local",
  };
  const socketUrl = server.replace(/^http/, "ws") + "/webhooks/websocket/ws";
  const restUrl = server + "/webhooks/rest/webhook";

  // --- storage: the session id and a copy of the conversation (the server's tracker is the record) --------
  const storageKey = "conductor-webchat:" + server;
  const store = (() => {
    try {
      const candidate = config.storage === "session" ? window.sessionStorage : window.localStorage;
      candidate.setItem(storageKey + ":probe", "1");
      candidate.removeItem(storageKey + ":probe");
      return candidate;
    } catch (_) {
      return null; // storage disabled: the conversation lasts as long as the page
    }
  })();

  function newId() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function loadSaved() {
    try {
      const saved = JSON.parse((store && store.getItem(storageKey)) || "null");
      return saved && saved.v === 1 && typeof saved.sessionId === "string" ? saved : null;
    } catch (_) {
      return null;
    }
  }

  const saved = loadSaved();
  const state = {
    sessionId: saved ? saved.sessionId : newId(),
    messages: saved && Array.isArray(saved.messages) ? saved.messages : [],
    open: config.mode === "page" || (saved ? Boolean(saved.open) : config.startOpen),
    greeted: Boolean(saved && saved.greeted),
    unread: 0,
  };

  function persist() {
    if (!store) return;
    state.messages = state.messages.slice(-MAX_KEPT);
    const record = { v: 1, sessionId: state.sessionId, messages: state.messages, open: state.open, greeted: state.greeted };
    try {
      store.setItem(storageKey, JSON.stringify(record));
    } catch (_) {
      /* full or disabled: keep going without it */
    }
  }

  // --- DOM helpers (text only ever enters through textContent / text nodes) ------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === false || value === null || value === undefined) continue;
      if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }

  function icon(name) {
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.setAttribute("class", "cw-icon cw-icon--" + name);
    const path = document.createElementNS(SVG, "path");
    path.setAttribute("d", ICONS[name]);
    svg.append(path);
    return svg;
  }

  function safeUrl(value) {
    if (typeof value !== "string" || !value) return null;
    try {
      const url = new URL(value, server + "/");
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (_) {
      return null;
    }
  }

  /** Appends `text` to `node`, turning http(s) links into anchors; everything else stays plain text. */
  function appendText(node, text) {
    const pattern = /https?:\/\/[^\s<>"']+/g;
    let last = 0;
    for (const match of text.matchAll(pattern)) {
      const link = match[0].replace(/[.,;:!?)\]]+$/, "");
      node.append(text.slice(last, match.index));
      node.append(el("a", { href: safeUrl(link), target: "_blank", rel: "noopener noreferrer", text: link }));
      last = match.index + link.length;
    }
    node.append(text.slice(last));
  }

  // --- the widget's frame -----------------------------------------------------------------------------------
  const host = el("div", { id: "conductor-webchat", "data-mode": config.mode, "data-connection": "idle" });
  if (data.color) host.style.setProperty("--cw-accent", data.color);
  if (data.textColor) host.style.setProperty("--cw-on-accent", data.textColor);
  const root = host.attachShadow({ mode: "open" });

  const badge = el("span", { class: "cw-badge", hidden: true, "aria-hidden": "true" });
  const launcher = config.mode === "launcher"
    ? el("button", { type: "button", class: "cw-launcher", "aria-controls": "cw-panel", "aria-expanded": "false" },
      icon("chat"), icon("close"), badge)
    : null;
  const status = el("p", { class: "cw-status", role: "status" });
  const closeButton = launcher
    ? el("button", { type: "button", class: "cw-close", "aria-label": "Close chat" }, icon("close"))
    : null;
  const log = el("div", { class: "cw-log", role: "log", "aria-live": "polite", "aria-label": "Conversation" });
  const typing = el("div", { class: "cw-typing", role: "status", hidden: true },
    el("span", { class: "cw-sr", text: "The assistant is typing" }),
    el("span", { class: "cw-dot", "aria-hidden": "true" }),
    el("span", { class: "cw-dot", "aria-hidden": "true" }),
    el("span", { class: "cw-dot", "aria-hidden": "true" }));
  const scroller = el("div", { class: "cw-scroll" }, log, typing);
  const input = el("input", {
    id: "cw-input", class: "cw-input", type: "text", autocomplete: "off", maxlength: "2000",
    enterkeyhint: "send", placeholder: config.placeholder,
  });
  const form = el("form", { class: "cw-form" },
    el("label", { for: "cw-input", class: "cw-sr", text: "Message" }),
    input,
    el("button", { type: "submit", class: "cw-send", "aria-label": "Send" }, icon("send")));
  const panel = el("section", {
    id: "cw-panel", class: "cw-panel", role: launcher ? "dialog" : "main", "aria-labelledby": "cw-title",
    hidden: !state.open,
  },
  el("header", { class: "cw-header" },
    el("div", { class: "cw-heading" }, el(launcher ? "h2" : "h1", { id: "cw-title", class: "cw-title", text: config.title }), status),
    closeButton),
  scroller, form);
  const frame = el("div", { class: "cw", hidden: true }, panel, launcher);
  const stylesheet = el("link", { rel: "stylesheet", href: new URL("widget.css", scriptUrl).href });
  const reveal = () => {
    frame.hidden = false;
    if (config.mode === "page") input.focus(); // the page's one purpose; shown only once styled
  };
  stylesheet.addEventListener("load", reveal);
  stylesheet.addEventListener("error", reveal);
  root.append(stylesheet, frame);

  // --- rendering ------------------------------------------------------------------------------------------
  const nodes = new Map(); // message id -> its element

  function scrollToEnd() {
    scroller.scrollTop = scroller.scrollHeight;
  }

  function buttonList(entry, buttons) {
    const group = el("div", { class: "cw-buttons", role: "group", "aria-label": "Choices" });
    for (const button of buttons) {
      const href = safeUrl(button.url);
      if (href) {
        group.append(el("a", { class: "cw-button", href, target: "_blank", rel: "noopener noreferrer", text: button.title }));
        continue;
      }
      const node = el("button", { type: "button", class: "cw-button", text: button.title, onclick: () => choose(entry, button) });
      node.payload = button.payload;
      group.append(node);
    }
    return group;
  }

  /** Disables the message's buttons once one was chosen, in place (a replaced node would be announced again). */
  function showChoice(entry, node) {
    if (entry.chosen === undefined) return;
    for (const button of node.querySelectorAll("button.cw-button")) {
      button.disabled = true;
      button.classList.toggle("cw-chosen", button.payload === entry.chosen);
    }
  }

  /** Shows or hides "Not sent yet" under a message of the user, in place. */
  function showPending(entry, shown) {
    const node = nodes.get(entry.id);
    const mark = node && node.querySelector(".cw-pending");
    if (!node || Boolean(mark) === shown) return;
    if (shown) node.append(el("span", { class: "cw-pending", text: "Not sent yet" }));
    else mark.remove();
  }

  function image(src, alt) {
    const img = el("img", { class: "cw-image", src, alt, loading: "lazy" });
    img.addEventListener("load", scrollToEnd);
    return img;
  }

  function renderEntry(entry) {
    const item = el("div", { class: "cw-msg cw-msg--" + entry.from });
    if (entry.from === "note") {
      item.append(el("p", { class: "cw-note", text: entry.text }));
      return item;
    }
    const who = entry.from === "user" ? "You: " : "Assistant: ";
    if (entry.text) {
      const bubble = el("p", { class: "cw-bubble" }, el("span", { class: "cw-sr", text: who }));
      appendText(bubble, entry.text);
      item.append(bubble);
    }
    if (entry.image) item.append(image(entry.image, "Image from the assistant"));
    if (entry.link) {
      item.append(el("a", { class: "cw-attachment", href: entry.link, target: "_blank", rel: "noopener noreferrer", text: "Open the attachment" }));
    }
    for (const card of entry.cards || []) {
      item.append(el("div", { class: "cw-card" },
        card.image ? image(card.image, card.title || "") : null,
        card.title ? el("p", { class: "cw-card-title", text: card.title }) : null,
        card.subtitle ? el("p", { class: "cw-card-subtitle", text: card.subtitle }) : null,
        card.buttons.length ? buttonList(entry, card.buttons) : null));
    }
    if (entry.buttons && entry.buttons.length) item.append(buttonList(entry, entry.buttons));
    showChoice(entry, item);
    return item;
  }

  function show(entry) {
    const node = renderEntry(entry);
    nodes.set(entry.id, node);
    log.append(node);
    scrollToEnd();
  }

  function add(entry) {
    state.messages.push(entry);
    persist();
    show(entry);
    if (!state.open && entry.from === "bot") {
      state.unread += 1;
      updateLauncher();
    }
  }

  function addNote(text) {
    add({ id: newId(), from: "note", text });
  }

  // --- bot messages (Rasa's shapes, from the socket or the REST channel) ----------------------------------
  function readButtons(list) {
    if (!Array.isArray(list)) return [];
    return list
      .filter((b) => b && typeof b === "object" && (typeof b.payload === "string" || typeof b.url === "string"))
      .map((b) => ({ title: String(b.title || b.payload || b.url), payload: b.payload, url: b.url }));
  }

  function readAttachment(attachment, entry) {
    if (typeof attachment === "string") {
      entry.link = safeUrl(attachment) || undefined;
      return;
    }
    const src = attachment && attachment.payload && safeUrl(attachment.payload.src);
    if (!src) return;
    if (attachment.type === "image") entry.image = src;
    else entry.link = src;
  }

  function addBot(message) {
    if (!message || typeof message !== "object") return;
    const entry = { id: newId(), from: "bot" };
    if (typeof message.text === "string" && message.text) entry.text = message.text;
    const buttons = readButtons(message.buttons || message.quick_replies);
    if (buttons.length) entry.buttons = buttons;
    entry.image = safeUrl(message.image) || undefined;
    if (message.attachment) readAttachment(message.attachment, entry);
    if (Array.isArray(message.elements)) {
      entry.cards = message.elements.filter((e) => e && typeof e === "object").map((e) => ({
        title: typeof e.title === "string" ? e.title : "",
        subtitle: typeof e.subtitle === "string" ? e.subtitle : "",
        image: safeUrl(e.image_url),
        buttons: readButtons(e.buttons),
      }));
    }
    if (message.custom !== undefined && message.custom !== null) {
      host.dispatchEvent(new CustomEvent("conductor:custom", { detail: message.custom, bubbles: true, composed: true }));
    }
    if (entry.text || entry.buttons || entry.image || entry.link || (entry.cards && entry.cards.length)) add(entry);
  }

  // --- the typing indicator -------------------------------------------------------------------------------
  let typingTimer = 0;
  function showTyping(on) {
    clearTimeout(typingTimer);
    typing.hidden = !on;
    if (on) {
      typingTimer = setTimeout(() => showTyping(false), TYPING_LIMIT_MS);
      scrollToEnd();
    }
  }

  // --- sending --------------------------------------------------------------------------------------------
  // A message stays `pending` (in storage too) until the server has it: acknowledged on the socket, or answered
  // over REST. Messages sent on a socket that closes before their `ack` are sent again after reconnecting; the
  // server recognises a repeat by its id.
  const outbox = []; // {id, text}: messages to send, in order
  const unacked = new Map(); // id -> text: sent on the socket, not acknowledged yet

  function socketOpen() {
    return connection.state === "open" && connection.socket.readyState === WebSocket.OPEN;
  }

  function entryOf(id) {
    return state.messages.find((m) => m.id === id);
  }

  function sendText(text, shown) {
    const message = text.trim();
    if (!message) return;
    const entry = { id: newId(), from: "user", text: shown || message, pending: true };
    if (shown) entry.payload = message;
    add(entry);
    if (!socketOpen()) showPending(entry, true);
    outbox.push({ id: entry.id, text: message });
    flush();
  }

  function choose(entry, button) {
    if (entry.chosen !== undefined) return;
    entry.chosen = button.payload;
    persist();
    showChoice(entry, nodes.get(entry.id));
    sendText(button.payload, button.title);
    input.focus();
  }

  function delivered(id) {
    unacked.delete(id);
    const entry = entryOf(id);
    if (entry && entry.pending) {
      delete entry.pending;
      persist();
      showPending(entry, false);
    }
  }

  /** Put messages back at the front of the outbox (in their order), shown as not sent yet. */
  function requeue(messages) {
    outbox.unshift(...messages);
    for (const message of messages) {
      const entry = entryOf(message.id);
      if (entry) showPending(entry, true);
    }
  }

  function flush() {
    if (!outbox.length) return;
    if (socketOpen()) {
      while (outbox.length) {
        const message = outbox.shift();
        connection.socket.send(JSON.stringify({
          type: "message", text: message.text, session_id: state.sessionId, message_id: message.id,
        }));
        unacked.set(message.id, message.text);
        const entry = entryOf(message.id);
        if (entry) showPending(entry, false);
        showTyping(true);
      }
    } else if (connection.state !== "connecting" && connection.state !== "open") {
      flushOverRest();
    }
  }

  let restBusy = false;
  async function flushOverRest() {
    if (restBusy) return;
    restBusy = true;
    try {
      while (outbox.length && !socketOpen()) {
        const message = outbox.shift(); // out of the outbox while in flight, so the socket does not send it too
        showTyping(true);
        let response;
        let replies = [];
        try {
          response = await fetch(restUrl, {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ sender: state.sessionId, message: message.text }),
          });
          if (RETRY_STATUSES.includes(response.status)) throw new Error("HTTP " + response.status);
          if (response.ok) replies = await response.json();
        } catch (_) {
          requeue([message]); // sent when the connection is back
          showTyping(false);
          connection.restWorks = false;
          setStatus("offline");
          if (config.transport === "rest") setTimeout(flush, REST_RETRY_MS);
          return;
        }
        delivered(message.id);
        if (!response.ok) addNote("Something went wrong on our side. Please try again.");
        for (const reply of Array.isArray(replies) ? replies : []) addBot(reply);
        showTyping(false);
        connection.restWorks = true;
        if (!socketOpen()) setStatus("rest");
      }
    } finally {
      restBusy = false;
    }
    if (outbox.length) flush(); // the socket opened meanwhile
  }

  function greetOnce() {
    if (state.greeted || !config.initialPayload || state.messages.length) return;
    state.greeted = true;
    persist();
    outbox.push({ id: newId(), text: config.initialPayload });
    flush();
  }

  // --- the connection ---------------------------------------------------------------------------------------
  const connection = {
    state: "idle", socket: null, attempts: 0, retryTimer: 0, lastHeard: 0, lastPing: 0, restWorks: false,
  };

  function setStatus(kind) {
    host.setAttribute("data-connection", kind);
    const texts = {
      connecting: "Connecting…", open: "Online", reconnecting: "Reconnecting…", rest: "Online",
      offline: "Offline: your messages will be sent when the connection is back",
    };
    if (status.textContent !== texts[kind]) status.textContent = texts[kind];
  }

  function connect() {
    clearTimeout(connection.retryTimer);
    if (config.transport === "rest" || typeof WebSocket === "undefined") {
      connection.state = "closed";
      setStatus("rest");
      flush();
      return;
    }
    if (connection.state === "connecting" || connection.state === "open") return;
    connection.state = "connecting";
    setStatus(connection.attempts ? "reconnecting" : "connecting");
    let socket;
    try {
      socket = new WebSocket(socketUrl);
    } catch (_) {
      onClosed();
      return;
    }
    connection.socket = socket;
    socket.onopen = () => {
      connection.lastHeard = Date.now();
      socket.send(JSON.stringify({ type: "session_request", session_id: state.sessionId }));
    };
    socket.onmessage = (event) => {
      if (socket !== connection.socket) return;
      connection.lastHeard = Date.now();
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (_) {
        return;
      }
      onFrame(frame);
    };
    socket.onclose = () => {
      if (socket === connection.socket) onClosed();
    };
  }

  function onClosed() {
    const wasOpen = connection.state === "open";
    connection.socket = null;
    connection.state = "closed";
    showTyping(false);
    requeue(Array.from(unacked, ([id, text]) => ({ id, text })));
    unacked.clear();
    if (wasOpen) connection.attempts = 0;
    const delay = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** connection.attempts) * (0.75 + Math.random() * 0.5);
    connection.attempts += 1;
    connection.retryTimer = setTimeout(connect, delay);
    setStatus(connection.restWorks ? "rest" : "reconnecting"); // no flapping status while REST carries the chat
    flush(); // queued messages try the REST channel meanwhile
  }

  function onFrame(frame) {
    switch (frame.type) {
      case "session_confirm":
        if (typeof frame.session_id === "string" && frame.session_id && frame.session_id !== state.sessionId) {
          state.sessionId = frame.session_id;
          persist();
        }
        connection.state = "open";
        connection.attempts = 0;
        setStatus("open");
        flush();
        break;
      case "bot_message":
        addBot(frame);
        break;
      case "typing_start":
        showTyping(true);
        break;
      case "typing_stop":
        showTyping(false);
        break;
      case "ack":
        delivered(frame.message_id);
        break;
      case "error":
        if (frame.code === "unavailable" && unacked.has(frame.message_id)) {
          requeue([{ id: frame.message_id, text: unacked.get(frame.message_id) }]); // the server is restarting
          unacked.delete(frame.message_id);
          showTyping(false);
        } else if (frame.code === "internal") addNote("Something went wrong on our side. Please try again.");
        else console.warn("Conductor web chat:", frame.code, frame.message);
        break;
      default:
        break; // pong, or frames of a newer protocol
    }
  }

  setInterval(() => {
    if (connection.state !== "open") return;
    const now = Date.now();
    if (now - connection.lastHeard > SILENCE_LIMIT_MS) {
      const silent = connection.socket;
      connection.socket = null; // its close event, whenever it comes, is ignored
      silent.close();
      onClosed();
    } else if (now - connection.lastHeard > PING_EVERY_MS && now - connection.lastPing > PING_EVERY_MS) {
      connection.lastPing = now;
      connection.socket.send(JSON.stringify({ type: "ping" }));
    }
  }, 5000);

  window.addEventListener("online", () => {
    if (connection.state === "closed") connect();
  });

  // --- opening, closing and the keyboard ------------------------------------------------------------------
  function updateLauncher() {
    if (!launcher) return;
    launcher.setAttribute("aria-expanded", String(state.open));
    const unread = state.unread ? ` (${state.unread} new)` : "";
    launcher.setAttribute("aria-label", state.open ? "Close chat" : `Open chat: ${config.title}${unread}`);
    badge.hidden = !state.unread;
    badge.textContent = String(state.unread);
  }

  function setOpen(open) {
    state.open = open;
    panel.hidden = !open;
    if (open) {
      state.unread = 0;
      if (connection.state === "idle") connect();
      greetOnce();
      scrollToEnd();
      input.focus();
    } else if (launcher) {
      launcher.focus();
    }
    updateLauncher();
    persist();
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value;
    input.value = "";
    sendText(text);
  });
  if (launcher) {
    launcher.addEventListener("click", () => setOpen(!state.open));
    closeButton.addEventListener("click", () => setOpen(false));
    panel.addEventListener("keydown", (event) => {
      if (event.key === "Escape") setOpen(false);
    });
  }

  // --- start ------------------------------------------------------------------------------------------------
  for (const entry of state.messages) show(entry);
  requeue(state.messages.filter((m) => m.pending).map((m) => ({ id: m.id, text: m.payload || m.text })));
  updateLauncher();
  (document.body || document.documentElement).append(host);
  if (state.open) {
    connect();
    greetOnce();
  }
})();
