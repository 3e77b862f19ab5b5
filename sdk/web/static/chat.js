// The chat overlay (/overlay/chat): the room's comments, each shown for ?time= seconds (default: the server's
// --display-time; 0 keeps them), at most ?max= at once (default 8). ?show=comment,gift,follow,share,join,sub
// chooses what appears (default: comment). ?avatars=0 hides the pictures. Styles: see live.js applyStyle().
import {
  applyStyle,
  avatar,
  connect,
  el,
  formatNumber,
  giftImage,
  giftInfo,
  numberParam,
  params,
  remainingMs,
  userName,
} from "./live.js";

applyStyle();

const KINDS = {
  comment: "CommentEvent",
  gift: "GiftEvent",
  follow: "FollowEvent",
  share: "ShareEvent",
  join: "JoinEvent",
  sub: "SubNotifyEvent",
};
const shown = (params.get("show") || "comment")
  .split(",")
  .map((kind) => KINDS[kind.trim().toLowerCase()])
  .filter(Boolean);
const max = Math.max(1, Math.min(numberParam("max", 8), 100));
const showAvatars = params.get("avatars") !== "0";
const list = document.getElementById("messages");
let displayTime = null;
let hello = null;

function body(event) {
  const data = event.data || {};
  switch (event.type) {
    case "CommentEvent":
      return [el("span", "text", data.content || "")];
    case "GiftEvent": {
      if (event.derived && event.derived.streaking) return null;
      const info = giftInfo(event);
      return [
        el("span", "text", `sent ${info.count}× ${info.name}`),
        giftImage(info.gift, "gift-image small"),
        el("span", "diamonds", `💎 ${formatNumber(info.diamonds)}`),
      ];
    }
    case "FollowEvent":
      return [el("span", "text action", "followed the host")];
    case "ShareEvent":
      return [el("span", "text action", "shared the LIVE")];
    case "JoinEvent":
      return [el("span", "text action", "joined")];
    case "SubNotifyEvent":
      return [el("span", "text action", "subscribed")];
    default:
      return null;
  }
}

function remove(item) {
  if (!item.isConnected || item.classList.contains("leaving")) return;
  item.classList.add("leaving");
  setTimeout(() => item.remove(), 400);
}

function show(event, info) {
  const parts = body(event);
  if (!parts) return;
  const time = displayTime === null ? 8 : displayTime;
  const left = remainingMs(event, info, hello, time);
  if (left <= 0) return;
  const user = (event.data || {}).user;
  const item = el("li", "message " + event.type.replace(/Event$/, "").toLowerCase());
  if (showAvatars) item.appendChild(avatar(user));
  const content = el("span", "content");
  content.appendChild(el("span", "name", userName(user)));
  for (const part of parts) content.appendChild(part);
  item.appendChild(content);
  list.appendChild(item);
  while (list.children.length > max) list.firstElementChild.remove();
  if (Number.isFinite(left)) setTimeout(() => remove(item), left);
}

connect({
  types: shown,
  backlog: max,
  state: false,
  onHello(message, reset) {
    hello = message;
    const fromQuery = numberParam("time", null);
    displayTime = fromQuery !== null ? fromQuery : Number(message.config && message.config.display_time);
    if (!Number.isFinite(displayTime) || displayTime < 0) displayTime = 8;
    if (reset) list.replaceChildren();
  },
  onEvent: show,
  onLink(up) {
    document.body.classList.toggle("offline", !up);
  },
});
