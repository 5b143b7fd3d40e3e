// The page's panels around the chat: the clock bar and its quiet-hours note, "即将发生",
// unread counts in the picker, the second pane (双栏), the empty-chat explanation and the
// Chinese font check. Loaded before app.js; uses its helpers only when called.
"use strict";

// The bot's due items, as the "即将发生" panel names them.
const KIND_NAMES = {
  "sla.remind": "催办提醒", "sla.escalate": "超时上报", "digest.daily": "每日待办摘要",
  "recall.profile": "人才档案卡", "recall.cadence": "召回提醒", "recall.rehire": "返岗跟进",
  "insight.weekly": "周报", "pool.suggest": "人才库推荐", "away.start": "休假开始",
  "away.end": "休假结束", "delivery.failed": "发送失败通知",
  "outbox.held": "暂缓的消息送达",
};
const STEP_NAMES = {
  hr_review: "HR审核", leader_approval: "领导审批", feedback: "用人经理反馈",
  interviewing: "面试", offer: "offer", greeting: "问候", news: "近况", opening: "岗位",
};

function emptyChat() {
  const other = state.platform === "dingtalk" ? "wecom" : "dingtalk";
  const mine = state.counts[state.person] || {};
  const name = escapeHtml(personName(state.person));
  if (state.conversation === "dm" && mine[other]) {
    return `<li class="empty">${name}在${PLATFORM_NAMES[state.platform]}上还没有消息，` +
      `在${PLATFORM_NAMES[other]}上有 ${mine[other]} 条。每个人的聊天记录留在他用的那个平台上。` +
      `<br><button type="button" class="link" data-go-platform="${other}">` +
      `看${PLATFORM_NAMES[other]}上的聊天</button></li>`;
  }
  return `<li class="empty">还没有消息。试试输入「@${escapeHtml(boot.botName)} 帮助」，` +
    `或点上方「▶ 演示剧本」</li>`;
}

async function refreshSecond(force) {
  const q = new URLSearchParams({ person: state.second, platform: state.platform,
    conversation: "dm" });
  if (!force && state.secondRevision !== null) q.set("since", state.secondRevision);
  const data = await call("GET", `inbox?${q}`);
  if (!data.changed) return;
  state.secondRevision = data.revision;
  const list = $("messages-2");
  list.innerHTML = data.messages.map((m) => renderMessage(m, state.second)).join("")
    || `<li class="empty">${escapeHtml(personName(state.second))}在${PLATFORM_NAMES[state.platform]}上还没有消息</li>`;
  list.scrollTop = list.scrollHeight;
}

function openSecond(person) {
  state.second = person;
  state.secondRevision = null;
  $("second-pane").hidden = !person;
  document.querySelector(".layout").classList.toggle("split", Boolean(person));
  $("split-toggle").setAttribute("aria-pressed", String(Boolean(person)));
  if (person) $("second-picker").value = person;
  refresh(true);
}

function shortTime(iso) {
  return iso.replace("T", " ").slice(5, 16);
}

function renderClock(clock) {
  const weekday = "日一二三四五六"[new Date(clock.now_ms).getDay()];
  $("clock").textContent = `沙盒时间 ${clock.now.replace("T", " ").slice(0, 16)} 周${weekday}`;
  const note = $("quiet-note");
  note.hidden = !clock.held_until;
  if (clock.held_until) {
    note.innerHTML = `🌙 现在是免打扰时段：机器人的提醒和卡片暂缓到 <b>${shortTime(clock.held_until)}</b>` +
      ` 才送达（截止时间不变）。点「到明天 09:00」或「下一个事件」继续。`;
  }
}

function renderUpcoming(items) {
  $("upcoming").innerHTML = items.map((i) => {
    const step = STEP_NAMES[i.step] ? ` · ${STEP_NAMES[i.step]}` : "";
    const whom = [i.candidate && `候选人 ${i.candidate}`, i.who && `给 ${i.who}`].filter(Boolean).join("，");
    return `<li class="due"><span class="due-time">${shortTime(i.due)}</span>` +
      `<span class="due-what">${escapeHtml(KIND_NAMES[i.kind] || i.kind)}${escapeHtml(step)}</span>` +
      (whom ? `<span class="hint">${escapeHtml(whom)}</span>` : "") + `</li>`;
  }).join("") || `<li class="hint">机器人没有待发生的事件</li>`;
}

function renderCounts(counts) {
  state.counts = counts;
  const key = `${state.person}/${state.platform}`;
  state.seen[key] = (counts[state.person] || {})[state.platform] || 0;
  localStorage.setItem("sandbox.seen", JSON.stringify(state.seen));
  for (const option of $("person-picker").options) {
    const total = (counts[option.value] || {})[state.platform] || 0;
    const unread = Math.max(total - (state.seen[`${option.value}/${state.platform}`] || 0), 0);
    if (!option.dataset.label) option.dataset.label = option.textContent;
    option.textContent = option.dataset.label + (unread ? ` · ${unread} 条新消息` : "");
  }
}

// Without a CJK font every Chinese character is the same "missing glyph" box: compare two
// different characters drawn on a canvas, and tell the visitor what to install if they match.
function checkFonts() {
  const canvas = document.createElement("canvas");
  canvas.width = 40; canvas.height = 20;
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  const draw = (text) => {
    ctx.clearRect(0, 0, 40, 20);
    ctx.font = `16px ${getComputedStyle(document.body).fontFamily}`;
    ctx.fillText(text, 0, 16);
    return ctx.getImageData(0, 0, 40, 20).data.join(",");
  };
  $("font-warning").hidden = draw("钉") !== draw("微");
}
