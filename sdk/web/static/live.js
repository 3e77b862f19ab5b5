// tiktok-live serve: what the dashboard and the overlays share.
//
// - connect(): the event stream (/events, Server-Sent Events). Each event is one JSON Lines object (schema v1,
//   docs/cli.md); "hello" opens every stream, "state" carries the room's totals. The stream reconnects by itself,
//   resuming from the last event id, after a network error, a server restart or a stall.
// - el(), avatar(), giftImage(): DOM helpers that only ever set user data as text (textContent) or as the src of
//   an <img> after checking it is an http(s) URL. Nothing here uses innerHTML: a comment "<b>hi</b>" shows
//   those characters.
// - applyStyle(): the query options every page understands (?font= &size= &color= &bg= &accent= &css=).

export const params = new URLSearchParams(location.search);

/** A new element with a class and text content (the text is never parsed as HTML). */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

/** The URL if it is http(s), else null (no javascript:, data: or relative tricks from user data). */
export function safeUrl(url) {
  if (typeof url !== "string" || url.length > 2048) return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
  } catch {
    return null;
  }
}

/** The first usable URL of an ImageModel ({m_urls: [...]}) or null. */
export function imageUrl(image) {
  const urls = image && Array.isArray(image.m_urls) ? image.m_urls : [];
  for (const url of urls) {
    const safe = safeUrl(url);
    if (safe) return safe;
  }
  return null;
}

/** A display name for a user object of an event: nickname, else @unique_id, else "someone". */
export function userName(user) {
  if (!user) return "someone";
  const name = typeof user.nickname === "string" ? user.nickname.trim() : "";
  if (name) return user.nickname;
  return user.unique_id ? "@" + user.unique_id : "someone";
}

function hue(text) {
  let hash = 0;
  for (const ch of String(text)) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return hash % 360;
}

function initial(name) {
  const first = Array.from(String(name).replace(/^@/, "").trim())[0];
  return first ? first.toUpperCase() : "?";
}

/** A round avatar: the user's initial on a colour of their own, covered by their picture when it loads. */
export function avatar(user, url) {
  const name = userName(user);
  const box = el("span", "avatar", initial(name));
  box.setAttribute("aria-hidden", "true");
  box.style.setProperty("--avatar-hue", String(hue((user && (user.unique_id || user.id)) || name)));
  const src = url === undefined ? imageUrl(user && user.avatar_thumb) : safeUrl(url);
  if (src) {
    const img = document.createElement("img");
    img.alt = "";
    img.decoding = "async";
    img.referrerPolicy = "no-referrer";
    img.addEventListener("error", () => img.remove());
    img.src = src;
    box.appendChild(img);
  }
  return box;
}

/** The gift's picture, or a gift emoji when it has none or it does not load. */
export function giftImage(gift, className = "gift-image") {
  const box = el("span", className, "🎁");
  box.setAttribute("aria-hidden", "true");
  const src = imageUrl(gift && (gift.image || gift.icon));
  if (src) {
    const img = document.createElement("img");
    img.alt = "";
    img.referrerPolicy = "no-referrer";
    img.addEventListener("error", () => img.remove());
    img.src = src;
    box.appendChild(img);
  }
  return box;
}

const numbers = new Intl.NumberFormat();
/** 12345 -> "12,345" (the browser's locale). */
export function formatNumber(value) {
  const number = Number(value);
  return Number.isFinite(number) ? numbers.format(number) : "0";
}

/** The gift line of a finished gift event: {name, count, diamonds, value}. */
export function giftInfo(event) {
  const data = event.data || {};
  const gift = data.gift || {};
  const derived = event.derived || {};
  return {
    gift,
    name: gift.name || "a gift",
    count: Math.max(Number(data.repeat_count) || 1, 1),
    diamonds: Number(derived.diamonds) || 0,
    value: Number(derived.value) || 0,
  };
}

/** A number from the query (or the fallback when missing or not a number). */
export function numberParam(name, fallback) {
  const raw = params.get(name);
  if (raw === null || raw.trim() === "") return fallback;
  const value = Number(raw);
  return Number.isFinite(value) ? value : fallback;
}

/** Apply the style options of the query: ?font= ?size= ?color= ?bg= ?accent= ?name= ?css= (a same-origin path). */
export function applyStyle() {
  const root = document.documentElement.style;
  const font = params.get("font");
  if (font && CSS.supports("font-family", font)) root.setProperty("--font", font + ", var(--font-fallback)");
  const size = params.get("size");
  if (size) {
    const length = /^\d+(\.\d+)?$/.test(size) ? size + "px" : size;
    if (CSS.supports("font-size", length)) root.setProperty("--size", length);
  }
  for (const [param, variable] of [
    ["color", "--color"],
    ["bg", "--bg"],
    ["accent", "--accent"],
    ["name", "--name-color"],
  ]) {
    const value = params.get(param);
    if (value && CSS.supports("color", value)) root.setProperty(variable, value);
  }
  const css = params.get("css");
  // Only a path on this server (e.g. /assets/mine.css from --assets): no scheme, no //host.
  if (css && /^\/?[A-Za-z0-9_\-./]+\.css$/.test(css) && !css.startsWith("//") && !css.includes("..")) {
    const link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = css;
    document.head.appendChild(link);
  }
}

/** The sequence number in an event id ("<server>.<seq>"), or 0. */
function seqOf(id) {
  const number = Number(String(id || "").split(".").pop());
  return Number.isFinite(number) ? number : 0;
}

/**
 * Open the event stream and keep it open.
 *
 * options.types: event type names to receive (undefined: all; []: none); options.backlog: how many held events a
 * fresh page gets (undefined: all the server holds); options.state: false to get no "state" messages.
 * Callbacks: onHello(hello, reset) when a stream opens (reset: start afresh, the backlog follows), onEvent(event,
 * {seq, backlog}) per event (backlog: sent before the page connected), onState(snapshot), onLink(connected).
 */
export function connect(options) {
  const { types, backlog, state = true, onHello, onEvent, onState, onLink } = options;
  let source = null;
  let server = null;
  let lastId = "";
  let helloSeq = 0;
  let delay = 1000;
  let reopenTimer = null;
  let stallTimer = null;
  let stallAfter = 45000;

  // The stream's state is also on <html data-stream="up|down" data-server="...">, for styles and tests.
  function link(up) {
    document.documentElement.dataset.stream = up ? "up" : "down";
    if (onLink) onLink(up);
  }

  function watch() {
    clearTimeout(stallTimer);
    stallTimer = setTimeout(() => reopen("stalled"), stallAfter);
  }

  function reopen() {
    clearTimeout(stallTimer);
    if (source) source.close();
    source = null;
    link(false);
    clearTimeout(reopenTimer);
    reopenTimer = setTimeout(open, delay);
    delay = Math.min(delay * 2, 15000);
  }

  function open() {
    const query = new URLSearchParams();
    if (types !== undefined) query.set("types", types.join(","));
    if (backlog !== undefined) query.set("backlog", String(backlog));
    if (!state) query.set("state", "0");
    if (lastId) query.set("last_id", lastId);
    source = new EventSource("/events?" + query.toString());
    source.addEventListener("hello", (message) => {
      const hello = JSON.parse(message.data);
      const reset = Boolean(hello.reset) || hello.server !== server;
      server = hello.server;
      helloSeq = Number(hello.seq) || 0;
      delay = 1000;
      const keepalive = Number(hello.config && hello.config.keepalive) || 15;
      stallAfter = (keepalive * 2 + 5) * 1000;
      document.documentElement.dataset.server = String(server);
      watch();
      link(true);
      if (onHello) onHello(hello, reset);
      if (state && hello.state && onState) onState(hello.state);
    });
    source.addEventListener("message", (message) => {
      watch();
      if (message.lastEventId) lastId = message.lastEventId;
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      const seq = seqOf(message.lastEventId);
      if (onEvent) onEvent(event, { seq, backlog: seq <= helloSeq });
    });
    source.addEventListener("state", (message) => {
      watch();
      if (onState) onState(JSON.parse(message.data));
    });
    source.addEventListener("ping", watch);
    source.addEventListener("error", () => {
      link(false);
      // CONNECTING: the browser retries by itself (sending Last-Event-ID). CLOSED: it gave up (an HTTP error such
      // as 503, or a restart mid-request): open a new stream ourselves, with backoff.
      if (source && source.readyState === EventSource.CLOSED) reopen();
    });
  }

  open();
  return {
    close() {
      clearTimeout(stallTimer);
      clearTimeout(reopenTimer);
      if (source) source.close();
    },
  };
}

/**
 * For overlays: whether a backlog event is still young enough to show, and for how long (ms).
 * Returns the remaining display time, or 0 when the message should be skipped. `time` is in seconds (0: forever).
 */
export function remainingMs(event, info, hello, time) {
  if (time <= 0) return Infinity;
  if (!info.backlog || !hello) return time * 1000;
  const age = Number(hello.now) - Number(event.received_at);
  const left = time * 1000 - (Number.isFinite(age) ? age : Infinity);
  return left > 0 ? left : 0;
}
