// The group supervision room page (docs/supervision.md): device check, then the call over `/ws/group` with ONE
// peer connection to the SFU; tiles, screen share, raised hand, ephemeral chat; moderators also get the waiting
// list, lock, per-participant mute / stop camera / remove, and end for everyone.
// The page gives: #group[data-room, data-ws, data-name, data-moderator, data-url]. Tests read window.ascoltoGroup.
import { Chat, wireChatToggle } from './chat.js';
import { DeviceCheck } from './devicecheck.js';
import { GroupCall } from './groupcall.js';
import { GroupSignaling } from './groupsignaling.js';
import { Tiles } from './grouptiles.js';
import { say, showScreen, t } from './i18n.js';

const root = document.getElementById('group');
const $ = (selector) => root.querySelector(selector);
const button = (name) => root.querySelector(`[data-action="${name}"]`);
const banner = document.getElementById('connection-banner');
const notice = $('[data-group="notice"]');
const lobbyBox = $('[data-group="lobby"]');

// Reloading must not post anything again: this page's own URL goes in the history.
if (root.dataset.url && location.pathname !== root.dataset.url) history.replaceState(null, '', root.dataset.url);

const check = new DeviceCheck(document.getElementById('device-check'));
const signaling = new GroupSignaling(root.dataset.room, root.dataset.ws);
const call = new GroupCall({ signaling, stream: check.stream });
const tiles = new Tiles({ list: $('[data-group="tiles"]'), stage: $('[data-group="stage"]') });
const chat = new Chat(document.getElementById('chat-panel'), signaling);
const state = { me: null, role: 'member', locked: false, hand: false, over: false, entered: false, waiting: [] };

window.ascoltoGroup = {
  signaling,
  call,
  tiles,
  state,
  get pc() {
    return call.pc;
  },
  leave: () => leave(),
};

// ---- device check, then in --------------------------------------------------------------------------------

check.addEventListener('done', () => {
  button('enter').disabled = false;
});
check.start();
button('enter').addEventListener('click', () => {
  if (state.entered) return;
  state.entered = true;
  call.stream = check.stream;
  check.finish();
  say(notice, t('call.state.connecting'));
  showScreen('screen-room');
  tiles.setMe('me', root.dataset.name || '', call.stream);
  showControls();
  signaling.connect();
});

// ---- the socket --------------------------------------------------------------------------------------------

const on = (type, handler) => signaling.addEventListener(type, (event) => handler(event.detail));

on('welcome', (m) => {
  state.me = m.id;
  state.role = m.role === 'moderator' ? 'moderator' : 'member';
  state.locked = !!m.locked;
  tiles.setModerator(state.role === 'moderator');
  tiles.setMe(m.id, root.dataset.name || '', call.stream);
  showModeration();
  if (m.state === 'waiting') {
    call.active = false;
    showScreen('screen-waiting');
    return;
  }
  enterCall(m.peers || [], m.ice_servers);
});
on('admitted', (m) => enterCall(m.peers || []));
on('peer_joined', (m) => {
  tiles.add(m);
  say(notice, t('sup.notice.joined', { name: m.name || '' }));
});
on('peer_left', (m) => {
  const name = tiles.name(m.id);
  tiles.remove(m.id);
  if (name) say(notice, t('sup.notice.left', { name }));
});
on('media', (m) => tiles.update(m.from, { audio: !!m.audio, video: !!m.video }));
on('screen', (m) => tiles.update(m.from, { screen: !!m.on }));
on('hand', (m) => {
  tiles.update(m.from, { hand: !!m.raised });
  if (m.raised && m.from !== state.me) say(notice, t('sup.notice.hand', { name: tiles.name(m.from) }));
});
on('speakers', (m) => tiles.setSpeakers(m.active, m.paused));
on('moderated', async (m) => {
  const name = tiles.name(m.by) || t('sup.moderator_name');
  if (m.action === 'mute') {
    call.setAudio(false);
    say(notice, t('sup.notice.muted', { name }));
  } else if (m.action === 'stop_video') {
    await call.setVideo(false).catch(() => {});
    say(notice, t('sup.notice.stopped_video', { name }));
  }
  tiles.local(call.stream);
  showControls();
});
on('lobby', (m) => showLobby(Array.isArray(m.waiting) ? m.waiting : []));
on('locked', (m) => {
  state.locked = !!m.locked;
  showModeration();
  say(notice, t(state.locked ? 'sup.notice.locked' : 'sup.notice.unlocked'));
});
on('removed', () => finish('screen-removed'));
on('ended', () => finish('screen-ended'));
on('error', (m) => {
  if (m.code === 'room_ended') finish('screen-ended');
  else if (m.code === 'room_not_found' || (m.code === 'forbidden' && m.ref === 'join')) finish('screen-failed');
});
on('reconnecting', () => {
  banner.hidden = false;
  say(banner, t('call.connection.lost'));
});
on('open', () => {
  banner.hidden = true;
});
on('failed', () => finish('screen-failed'));
on('closed', (m) => finish({ 4003: 'screen-removed', 4000: 'screen-replaced', 1008: 'screen-failed' }[m.code] || 'screen-ended'));

call.addEventListener('feeds', (event) => tiles.setFeeds(event.detail));
call.addEventListener('state', (event) => {
  if (event.detail.state === 'connected' && notice.textContent === t('call.state.connecting')) say(notice, '');
});
call.addEventListener('screen', () => showControls());

function enterCall(peers, iceServers) {
  showScreen('screen-room');
  tiles.reset(peers);
  call.start(iceServers);
  if (state.hand) signaling.send('hand', { raised: true });
  tiles.local(call.stream);
  showControls();
}

// ---- controls ----------------------------------------------------------------------------------------------

function press(name, pressed, labelKey) {
  const el = button(name);
  if (!el) return;
  el.setAttribute('aria-pressed', String(pressed));
  if (labelKey) say(el, t(labelKey));
}

function showControls() {
  press('mic', !call.audioOn);
  button('mic').disabled = !call.track('audio');
  press('camera', !call.videoOn);
  press('screen', call.sharing, call.sharing ? 'sup.controls.screen_stop' : 'sup.controls.screen');
  button('screen').hidden = !(navigator.mediaDevices && navigator.mediaDevices.getDisplayMedia);
  press('hand', state.hand, state.hand ? 'sup.controls.hand_down' : 'sup.controls.hand');
}

button('mic').addEventListener('click', () => {
  call.setAudio(!call.audioOn);
  tiles.local(call.stream);
  showControls();
});
button('camera').addEventListener('click', async () => {
  try {
    await call.setVideo(!call.videoOn);
  } catch {
    say(notice, t('call.check.help.nocamera'));
  }
  tiles.local(call.stream);
  showControls();
});
button('screen').addEventListener('click', async () => {
  try {
    if (call.sharing) await call.stopScreen();
    else await call.startScreen();
  } catch (error) {
    if (error && error.name !== 'NotAllowedError' && error.name !== 'AbortError') say(notice, t('sup.notice.screen_failed'));
  }
  showControls();
});
button('hand').addEventListener('click', () => {
  state.hand = !state.hand;
  signaling.send('hand', { raised: state.hand });
  if (state.me) tiles.update(state.me, { hand: state.hand });
  showControls();
});
wireChatToggle(button('chat'), document.getElementById('chat-panel'));
button('leave').addEventListener('click', () => leave());
button('leave-waiting').addEventListener('click', () => leave());

// ---- moderation --------------------------------------------------------------------------------------------

function showModeration() {
  const moderator = state.role === 'moderator';
  const lock = button('lock');
  if (lock) {
    lock.hidden = !moderator;
    press('lock', state.locked, state.locked ? 'sup.mod.unlock' : 'sup.mod.lock');
  }
  if (button('end')) button('end').hidden = !moderator;
  if (lobbyBox) lobbyBox.hidden = !moderator || state.waiting.length === 0;
}

function showLobby(waiting) {
  state.waiting = waiting;
  if (!lobbyBox) return;
  const list = lobbyBox.querySelector('[data-lobby="list"]');
  list.replaceChildren(
    ...waiting.map((person) => {
      const item = document.createElement('li');
      const who = document.createElement('span');
      who.className = 'who';
      who.textContent = person.name || '';
      const admit = document.createElement('button');
      admit.type = 'button';
      admit.className = 'primary';
      admit.dataset.admit = person.id;
      admit.textContent = t('sup.mod.admit');
      admit.setAttribute('aria-label', t('sup.mod.admit_label', { name: person.name || '' }));
      admit.addEventListener('click', () => signaling.send('admit', { id: person.id }));
      item.append(who, admit);
      return item;
    }),
  );
  if (waiting.length) say(notice, t('sup.notice.waiting', { count: waiting.length }));
  showModeration();
}

tiles.addEventListener('moderate', (event) => {
  const { action, id, name } = event.detail;
  if (action === 'remove' && !window.confirm(t('sup.mod.remove_question', { name }))) return;
  signaling.send(action, { id });
});
button('lock')?.addEventListener('click', () => signaling.send('lock', { locked: !state.locked }));
const dialog = document.getElementById('end-dialog');
button('end')?.addEventListener('click', () => {
  dialog.returnValue = '';
  dialog.showModal();
});
dialog?.addEventListener('close', () => {
  if (dialog.returnValue === 'end') signaling.send('end'); // `ended` comes back to everyone, us too
});

// ---- the end -----------------------------------------------------------------------------------------------

function leave() {
  finish('screen-left');
}

function finish(screen) {
  if (state.over) return;
  state.over = true;
  banner.hidden = true;
  call.stop();
  check.finish();
  check.stopTracks();
  chat.clear();
  tiles.clear();
  signaling.close();
  showScreen(screen);
}
