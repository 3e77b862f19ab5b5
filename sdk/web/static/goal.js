// The goal overlay (/overlay/goal?likes=1000): a progress bar towards a goal of the room's likes (or ?diamonds=,
// ?follows=, ?shares=, ?gifts=, ?comments=), fed by the server's running totals. ?label= sets the caption.
// Styles: see live.js applyStyle().
import { applyStyle, connect, el, formatNumber, numberParam, params } from "./live.js";

applyStyle();

const METRICS = {
  likes: "Likes",
  diamonds: "Diamonds",
  follows: "Follows",
  shares: "Shares",
  gifts: "Gifts",
  comments: "Comments",
};
const metric = Object.keys(METRICS).find((name) => params.has(name)) || "likes";
const target = Math.max(1, numberParam(metric, 1000));
const label = params.get("label") || `${METRICS[metric]} goal`;

const goal = document.getElementById("goal");
const caption = el("div", "goal-label", label);
const count = el("div", "goal-count", `0 / ${formatNumber(target)}`);
const bar = el("div", "goal-bar");
const fill = el("div", "goal-fill");
bar.appendChild(fill);
const head = el("div", "goal-head");
head.appendChild(caption);
head.appendChild(count);
goal.replaceChildren(head, bar);
goal.dataset.metric = metric;

function update(state) {
  const value = Math.max(0, Number(state[metric]) || 0);
  const ratio = Math.min(value / target, 1);
  count.textContent = `${formatNumber(value)} / ${formatNumber(target)}`;
  fill.style.setProperty("width", `${(ratio * 100).toFixed(2)}%`);
  goal.classList.toggle("reached", value >= target);
  goal.dataset.value = String(value);
}

connect({
  types: [],
  onState: update,
  onLink(up) {
    document.body.classList.toggle("offline", !up);
  },
});
