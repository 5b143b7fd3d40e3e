// Scenario demos (演示剧本): plays sandbox/demos/*.json step by step through the JSON API
// (POST demos/{id}/steps/{n}), shows each step's narration and switches to the person who
// sees its result. Pausable; "我来操作" hands the chat to the visitor until they continue.
"use strict";

const PAUSE_BETWEEN_STEPS_MS = 2500;
const demo = { list: [], current: null, run: null, index: 0, playing: false, busy: false,
  began: 0, sandboxSeconds: 0, timer: null };

function demoState(name) {
  $("demo-panel").dataset.state = name;
  $("demo-play").hidden = name === "playing" || name === "done";
  $("demo-pause").hidden = name !== "playing";
  $("demo-next").hidden = name === "done";
  $("demo-takeover").hidden = name === "done";
  $("demo-skip").hidden = name !== "error";
}

function renderDemoMenu() {
  $("demo-menu").innerHTML = `<div class="demo-menu-head">选一个真实场景，看 ${escapeHtml(boot.botName)}` +
    ` 怎样一步步解决它（随时可暂停、接手自己操作）</div>` + demo.list.map((d) =>
    `<button type="button" class="demo-choice" data-demo="${escapeHtml(d.id)}">` +
    `<b>${escapeHtml(d.title)}</b><span>${escapeHtml(d.problem)}</span>` +
    `<span class="demo-choice-figure">${escapeHtml(d.figure.label)}：${escapeHtml(d.figure.value)}</span>` +
    (d.platforms.length < 2 ? `<span class="hint">仅${PLATFORM_NAMES[d.platforms[0]]}</span>` : "") +
    `</button>`).join("");
}

function renderDemoStep(narration) {
  const d = demo.current;
  $("demo-title").textContent = d.title;
  const total = d.steps.length;
  $("demo-step").textContent = demo.index < total ? `第 ${demo.index + 1} / ${total} 步` : "演示结束";
  $("demo-narration").textContent = narration;
  $("demo-figure").innerHTML = `📊 ${escapeHtml(d.figure.label)}：<b>${escapeHtml(d.figure.value)}</b>` +
    `<span class="hint">（${escapeHtml(d.figure.source)}）</span>`;
}

async function openDemos() {
  $("demo-panel").hidden = false;
  $("demo-menu").hidden = false;
  $("demo-stage").hidden = true;
  $("demo-panel").dataset.state = "menu";
  try {
    demo.list = (await call("GET", "demos")).demos;
    renderDemoMenu();
  } catch (err) {
    toast(err.message);
  }
}

async function startDemo(id) {
  const started = await call("POST", `demos/${id}/start`);
  demo.current = started.demo;
  demo.run = started.run;
  demo.index = 0;
  demo.began = performance.now();
  demo.sandboxSeconds = 0;
  $("demo-menu").hidden = true;
  $("demo-stage").hidden = false;
  $("demo-error").hidden = true;
  $("demo-hint").hidden = true;
  if (!demo.current.platforms.includes(state.platform)) choose(state.person, demo.current.platforms[0]);
  renderDemoStep(demo.current.steps[0].narration);
  demo.playing = true;
  demoState("playing");
  playStep();
}

function formatDuration(seconds) {
  if (seconds >= 86400) return `${(seconds / 86400).toFixed(1)} 天`;
  if (seconds >= 3600) return `${(seconds / 3600).toFixed(1)} 小时`;
  return `${Math.round(seconds)} 秒`;
}

async function playStep() {
  clearTimeout(demo.timer);
  const d = demo.current;
  if (!d || demo.busy) return;
  if (demo.index >= d.steps.length) return finishDemo();
  const step = d.steps[demo.index];
  renderDemoStep(step.narration);
  $("demo-error").hidden = true;
  if (step.as && step.as !== state.person) choose(step.as, state.platform);
  demo.busy = true;
  try {
    const result = await call("POST", `demos/${d.id}/steps/${demo.index}`,
      { platform: state.platform, run: demo.run });
    demo.sandboxSeconds += result.sandbox_seconds || 0;
    if (result.show && result.show !== state.person) choose(result.show, result.platform);
    else refresh(true);
    demo.index += 1;
  } catch (err) {
    demo.playing = false;
    $("demo-error").hidden = false;
    $("demo-error").textContent = `这一步没能完成：${err.message}`;
    demoState("error");
    return;
  } finally {
    demo.busy = false;
  }
  if (demo.index >= d.steps.length) return finishDemo();
  if (demo.playing) demo.timer = setTimeout(playStep, PAUSE_BETWEEN_STEPS_MS);
  else renderDemoStep(`下一步：${d.steps[demo.index].narration}`);
}

function finishDemo() {
  demo.playing = false;
  const real = (performance.now() - demo.began) / 1000;
  renderDemoStep(`演示结束。整个流程在沙盒里用了 ${formatDuration(real)}（真实时间）` +
    (demo.sandboxSeconds > 60 ? `，其中时钟快进了 ${formatDuration(demo.sandboxSeconds)}` : "") +
    "。现在可以换个身份看看每个人看到了什么，或者自己接着操作。");
  demoState("done");
}

function pauseDemo(text) {
  demo.playing = false;
  clearTimeout(demo.timer);
  demoState("paused");
  if (text) $("demo-narration").textContent = text;
}

$("demo-open").addEventListener("click", () => {
  if ($("demo-panel").hidden || demo.current === null) openDemos();
  else $("demo-panel").hidden = true;
});
$("demo-menu").addEventListener("click", (e) => {
  const choice = e.target.closest("[data-demo]");
  if (choice) startDemo(choice.dataset.demo).catch((err) => toast(err.message));
});
$("demo-play").addEventListener("click", () => {
  $("demo-hint").hidden = true;
  demo.playing = true;
  demoState("playing");
  playStep();
});
$("demo-pause").addEventListener("click", () => pauseDemo());
$("demo-next").addEventListener("click", () => { pauseDemo(); playStep(); });
$("demo-skip").addEventListener("click", () => {
  demo.index += 1;
  pauseDemo(demo.index < demo.current.steps.length
    ? `已跳过。下一步：${demo.current.steps[demo.index].narration}` : "");
  if (demo.index >= demo.current.steps.length) finishDemo();
});
$("demo-takeover").addEventListener("click", () => {
  pauseDemo();
  $("demo-hint").hidden = false;
  $("input").focus();
});
$("demo-close").addEventListener("click", () => {
  pauseDemo();
  demo.current = null;
  $("demo-panel").hidden = true;
});
