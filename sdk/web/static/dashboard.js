// The dashboard (/): the live feed with avatars, the room's totals, viewers over time, top gifters, the
// connection state and reconnects. Totals come from the server ("state" messages), so a page opened late is
// right at once; the feed comes from the events (the server's backlog first).
import { avatar, connect, el, formatNumber, giftImage, giftInfo, userName } from "./live.js";

const FEED_LIMIT = 200;
const SVG = "http://www.w3.org/2000/svg";
const feed = document.getElementById("feed");
const $ = (id) => document.getElementById(id);

const STATUS_TEXT = {
  starting: "starting",
  connecting: "connecting…",
  offline: "host offline",
  connected: "LIVE",
  reconnecting: "reconnecting…",
  ended: "LIVE ended",
  disconnected: "disconnected",
  failed: "connection failed",
};

function time(ms) {
  const date = new Date(Number(ms) || Date.now());
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

// ── the feed ────────────────────────────────────────────────────────────────────────────────────────────────

/** [kind, user, parts] for an event worth a feed line, else null. Every part is a node built from text. */
function describe(event) {
  const data = event.data || {};
  const user = data.user;
  switch (event.type) {
    case "CommentEvent":
      return ["comment", user, [el("span", "text", data.content || "")]];
    case "GiftEvent": {
      if (!event.derived || event.derived.streaking) return null;
      const info = giftInfo(event);
      const value = info.value ? ` (~$${info.value.toFixed(2)})` : "";
      return [
        "gift",
        user,
        [
          el("span", "text", `sent ${info.count}× ${info.name}`),
          giftImage(info.gift, "gift-image small"),
          el("span", "diamonds", `💎 ${formatNumber(info.diamonds)}${value}`),
        ],
      ];
    }
    case "FollowEvent":
      return ["follow", user, [el("span", "text", "followed the host")]];
    case "ShareEvent":
      return ["share", user, [el("span", "text", "shared the LIVE")]];
    case "JoinEvent":
      return ["join", user, [el("span", "text", "joined")]];
    case "SubNotifyEvent":
      return ["sub", user, [el("span", "text", "subscribed")]];
    case "EmoteChatEvent":
      return ["comment", user, [el("span", "text", "sent an emote")]];
    case "EnvelopeEvent":
      return ["gift", null, [el("span", "text", "a treasure chest dropped")]];
    case "QuestionNewEvent":
      return ["comment", null, [el("span", "text", "new question")]];
    case "PollEvent": {
      const title = (data.poll_basic_info && data.poll_basic_info.title) || "";
      return ["system", null, [el("span", "text", title ? `poll: ${title}` : "poll update")]];
    }
    case "GoalUpdateEvent": {
      const description = (data.goal && data.goal.description) || "goal";
      return ["system", null, [el("span", "text", `${description}: progress`)]];
    }
    case "LinkMicBattleEvent":
      return ["system", null, [el("span", "text", `battle: ${String(data.action || "update").replace(/^BATTLE_ACTION_/, "").toLowerCase()}`)]];
    case "LivePauseEvent":
      return ["system", null, [el("span", "text", "the host paused the LIVE")]];
    case "LiveUnpauseEvent":
      return ["system", null, [el("span", "text", "the host resumed the LIVE")]];
    case "LiveEndEvent":
      return ["alert", null, [el("span", "text", "the LIVE ended")]];
    case "ConnectEvent":
      return ["system", null, [el("span", "text", `connected to @${data.unique_id || ""}`)]];
    case "ReconnectEvent": {
      const delay = Number(data.delay) || 0;
      return [
        "alert",
        null,
        [el("span", "text", `reconnecting in ${delay.toFixed(1)} s (attempt ${data.attempt}): ${data.reason || ""}`)],
      ];
    }
    case "DisconnectEvent":
      return ["alert", null, [el("span", "text", `disconnected: ${data.reason || ""}`)]];
    default:
      return null;
  }
}

function addToFeed(event) {
  const line = describe(event);
  if (!line) return;
  const [kind, user, parts] = line;
  const item = el("li", `item ${kind}`);
  item.dataset.type = event.type;
  item.appendChild(el("time", "when", time(event.received_at)));
  if (user) item.appendChild(avatar(user));
  else item.appendChild(el("span", "avatar system-icon", kind === "alert" ? "!" : "•"));
  const content = el("span", "content");
  if (user) content.appendChild(el("span", "name", userName(user)));
  for (const part of parts) content.appendChild(part);
  item.appendChild(content);
  feed.prepend(item);
  while (feed.children.length > FEED_LIMIT) feed.lastElementChild.remove();
}

// ── totals and state ────────────────────────────────────────────────────────────────────────────────────────

function setText(id, text) {
  const node = $(id);
  if (node.textContent !== text) node.textContent = text;
}

function renderState(state) {
  const status = state.status || "starting";
  const pill = $("status");
  pill.dataset.status = status;
  pill.textContent = (STATUS_TEXT[status] || status) + (state.paused && status === "connected" ? " (paused)" : "");
  setText("host-name", state.host_nickname || (state.unique_id ? "@" + state.unique_id : "tiktok-live"));
  setText("room-title", [state.unique_id ? "@" + state.unique_id : "", state.title || ""].filter(Boolean).join(" · "));
  const hostAvatar = $("host-avatar");
  const hostKey = `${state.unique_id || ""}\n${state.host_nickname || ""}`;
  if (hostAvatar.dataset.key !== hostKey) {
    hostAvatar.dataset.key = hostKey;
    hostAvatar.replaceChildren(avatar({ nickname: state.host_nickname, unique_id: state.unique_id }, null));
  }
  setText("viewers", formatNumber(state.viewers));
  setText("viewers-sub", `peak ${formatNumber(state.peak_viewers)} · ${formatNumber(state.total_viewers)} total`);
  setText("likes", formatNumber(state.likes));
  setText("gifts", formatNumber(state.gifts));
  setText("diamonds", formatNumber(state.diamonds));
  setText("diamonds-sub", `~$${(Number(state.value) || 0).toFixed(2)}`);
  setText("follows", formatNumber(state.follows));
  setText("shares", formatNumber(state.shares));
  setText("comments", formatNumber(state.comments));
  setText("joins-sub", `${formatNumber(state.joins)} joined`);
  setText("reconnects", formatNumber(state.reconnects));
  setText("reason", state.reason || "\u00a0");
  renderBanner(state);
  renderGifters(state.top_gifters || []);
  renderChart(state.viewer_history || []);
}

function renderBanner(state) {
  const banner = $("banner");
  let text = "";
  if (state.status === "ended") {
    text = `The LIVE ended${state.ended_at ? " at " + time(state.ended_at) : ""}. The server keeps running; these are the final totals.`;
  } else if (state.status === "offline") {
    text = `@${state.unique_id} is not live right now; the server checks again every 30 s.`;
  } else if (state.status === "failed") {
    text = `The connection failed: ${state.error || "unknown error"}`;
  } else if (state.status === "disconnected") {
    text = `Disconnected: ${state.reason || ""}`;
  } else if (state.paused) {
    text = "The host paused the LIVE.";
  }
  banner.hidden = !text;
  banner.dataset.status = state.status || "";
  setText("banner", text);
}

function renderGifters(gifters) {
  const list = $("gifters");
  $("no-gifters").hidden = gifters.length > 0;
  const items = gifters.map((gifter, index) => {
    const item = el("li", "gifter");
    item.appendChild(el("span", "rank", String(index + 1)));
    item.appendChild(avatar(gifter, gifter.avatar || null));
    const who = el("span", "who");
    who.appendChild(el("span", "name", gifter.nickname || "@" + gifter.unique_id));
    if (gifter.unique_id) who.appendChild(el("span", "muted small", "@" + gifter.unique_id));
    item.appendChild(who);
    item.appendChild(el("span", "diamonds", `💎 ${formatNumber(gifter.diamonds)}`));
    return item;
  });
  list.replaceChildren(...items);
}

function svg(tag, attributes) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  return node;
}

function renderChart(points) {
  const chart = $("chart");
  const width = 600;
  const height = 180;
  const pad = { left: 44, right: 10, top: 12, bottom: 22 };
  const nodes = [];
  if (points.length === 0) {
    const note = svg("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "axis" });
    note.textContent = "waiting for viewer counts…";
    chart.replaceChildren(note);
    setText("chart-range", "");
    return;
  }
  const series = points.length === 1 ? [points[0], [points[0][0] + 1000, points[0][1]]] : points;
  const t0 = series[0][0];
  const t1 = series[series.length - 1][0];
  const values = series.map((point) => point[1]);
  const top = Math.max(10, Math.ceil((Math.max(...values) * 1.15) / 10) * 10);
  const x = (t) => pad.left + ((t - t0) / Math.max(t1 - t0, 1)) * (width - pad.left - pad.right);
  const y = (v) => height - pad.bottom - (v / top) * (height - pad.top - pad.bottom);
  for (const fraction of [0, 0.5, 1]) {
    const value = Math.round(top * fraction);
    nodes.push(svg("line", { x1: pad.left, x2: width - pad.right, y1: y(value), y2: y(value), class: "grid" }));
    const label = svg("text", { x: pad.left - 6, y: y(value) + 4, "text-anchor": "end", class: "axis" });
    label.textContent = formatNumber(value);
    nodes.push(label);
  }
  const line = series.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
  const area = `${x(t0).toFixed(1)},${y(0)} ${line} ${x(t1).toFixed(1)},${y(0)}`;
  nodes.push(svg("polygon", { points: area, class: "area" }));
  nodes.push(svg("polyline", { points: line, class: "line" }));
  const [lastT, lastV] = series[series.length - 1];
  nodes.push(svg("circle", { cx: x(lastT), cy: y(lastV), r: 4, class: "dot" }));
  const start = svg("text", { x: pad.left, y: height - 5, class: "axis" });
  start.textContent = time(t0);
  const end = svg("text", { x: width - pad.right, y: height - 5, "text-anchor": "end", class: "axis" });
  end.textContent = time(t1);
  nodes.push(start, end);
  chart.replaceChildren(...nodes);
  setText("chart-range", `${points.length} samples · now ${formatNumber(lastV)}`);
}

// ── overlay links ───────────────────────────────────────────────────────────────────────────────────────────

function renderLinks() {
  const base = location.origin;
  const links = [
    ["Chat", "/overlay/chat", "400×600"],
    ["Gift alerts", "/overlay/gifts", "600×400"],
    ["Like goal", "/overlay/goal?likes=1000", "600×120"],
  ];
  $("overlay-links").replaceChildren(
    ...links.map(([label, path, size]) => {
      const item = el("li");
      const link = el("a", "", base + path);
      link.href = path;
      link.target = "_blank";
      link.rel = "noopener";
      item.appendChild(el("span", "link-label", label));
      item.appendChild(link);
      item.appendChild(el("span", "muted small", size));
      return item;
    }),
  );
}

renderLinks();
renderChart([]);

connect({
  onHello(hello, reset) {
    if (reset) feed.replaceChildren();
  },
  onEvent: addToFeed,
  onState: renderState,
  onLink(up) {
    const link = $("link");
    link.dataset.link = up ? "up" : "down";
    link.textContent = up ? "page: live" : "page: reconnecting…";
  },
});
