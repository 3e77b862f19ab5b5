// The gift alerts overlay (/overlay/gifts): one alert per gift at the end of its streak, with the gift's picture,
// the sender, the count and the value in diamonds. Each stays ?time= seconds (default: the server's
// --display-time), at most ?max= at once (default 3; the rest wait their turn). ?min= skips gifts worth fewer
// diamonds. Styles: see live.js applyStyle().
import {
  applyStyle,
  avatar,
  connect,
  el,
  formatNumber,
  giftImage,
  giftInfo,
  numberParam,
  remainingMs,
  userName,
} from "./live.js";

applyStyle();

const max = Math.max(1, Math.min(numberParam("max", 3), 20));
const minDiamonds = numberParam("min", 0);
const alerts = document.getElementById("alerts");
const waiting = [];
const WAITING_LIMIT = 50;
let displayTime = null;
let hello = null;

function render(event) {
  const info = giftInfo(event);
  const user = (event.data || {}).user;
  const alert = el("li", "alert");
  alert.appendChild(giftImage(info.gift));
  const text = el("div", "alert-text");
  const who = el("div", "who");
  who.appendChild(avatar(user));
  who.appendChild(el("span", "name", userName(user)));
  text.appendChild(who);
  text.appendChild(el("div", "what", `sent ${info.count}× ${info.name}`));
  const value = info.value ? ` · ~$${info.value.toFixed(2)}` : "";
  text.appendChild(el("div", "value", `💎 ${formatNumber(info.diamonds)}${value}`));
  alert.appendChild(text);
  return alert;
}

function next() {
  while (alerts.querySelectorAll(".alert:not(.leaving)").length < max && waiting.length) {
    const { event, left } = waiting.shift();
    const alert = render(event);
    alerts.appendChild(alert);
    if (Number.isFinite(left)) {
      setTimeout(() => {
        alert.classList.add("leaving");
        setTimeout(() => {
          alert.remove();
          next();
        }, 400);
      }, left);
    }
  }
}

connect({
  types: ["GiftEvent"],
  backlog: max,
  state: false,
  onHello(message, reset) {
    hello = message;
    const fromQuery = numberParam("time", null);
    displayTime = fromQuery !== null ? fromQuery : Number(message.config && message.config.display_time);
    if (!Number.isFinite(displayTime) || displayTime < 0) displayTime = 8;
    if (reset) {
      alerts.replaceChildren();
      waiting.length = 0;
    }
  },
  onEvent(event, info) {
    if (event.type !== "GiftEvent" || !event.derived || event.derived.streaking) return;
    if (giftInfo(event).diamonds < minDiamonds) return;
    const left = remainingMs(event, info, hello, displayTime === null ? 8 : displayTime);
    if (left <= 0) return;
    if (waiting.length >= WAITING_LIMIT) waiting.shift();
    waiting.push({ event, left });
    next();
  },
  onLink(up) {
    document.body.classList.toggle("offline", !up);
  },
});
