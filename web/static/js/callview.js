// The call on screen: videos, status, quality, the peer's microphone/camera state, the controls and the chat.
import { Chat, wireChatToggle } from './chat.js';
import { say, t } from './i18n.js';
import { watchQuality } from './quality.js';

export function mountCall(root, call, { onHangup }) {
  const $ = (name) => root.querySelector(`[data-view="${name}"]`);
  const button = (name) => root.querySelector(`[data-action="${name}"]`);
  const remote = $('remote');
  const local = $('local');
  const status = $('status');
  const peerState = $('peer-state');
  const placeholder = $('placeholder');
  const chatPanel = $('chat');
  let peerName = call.peerName;
  let remoteMedia = call.remoteMedia;
  let audioOnly = false;

  const stateKey = (state) => (state === 'idle' && call.role === 'citizen' ? 'call.state.idle_citizen' : `call.state.${state}`);
  const chat = new Chat(chatPanel, call.signaling);
  const stopQuality = watchQuality(() => call.pc, $('quality'));

  function showLocal() {
    const hasVideo = call.videoOn && !audioOnly;
    local.srcObject = hasVideo ? call.stream : null;
    local.hidden = !hasVideo;
  }

  function showRemote() {
    const visible = remoteMedia.video && !audioOnly && call.state === 'connected';
    remote.classList.toggle('off', !visible);
    placeholder.hidden = visible;
    let key = 'call.view.waiting_video';
    if (audioOnly) key = 'call.view.audio_only';
    else if (!remoteMedia.video) key = 'call.view.peer_camera_off';
    else if (call.state === 'reconnecting') key = 'call.state.reconnecting';
    else if (call.state === 'idle') key = stateKey('idle');
    say(placeholder, t(key, { name: peerName }));
  }

  function showPeerState() {
    const parts = [];
    if (!remoteMedia.audio) parts.push(t('call.peer.muted', { name: peerName }));
    if (!remoteMedia.video) parts.push(t('call.peer.camera_off', { name: peerName }));
    say(peerState, parts.join(' '));
    peerState.hidden = parts.length === 0;
  }

  function showControls() {
    const mute = button('mute');
    mute.setAttribute('aria-pressed', String(!call.audioOn));
    mute.disabled = !call.track('audio');
    button('camera').setAttribute('aria-pressed', String(!call.videoOn));
    button('camera').disabled = audioOnly;
    button('audio-only').setAttribute('aria-pressed', String(audioOnly));
  }

  call.addEventListener('track', (event) => {
    remote.srcObject = event.detail.stream;
    remote.play().catch(() => {});
  });
  call.addEventListener('peer', (event) => {
    if (event.detail.name) peerName = event.detail.name;
  });
  call.addEventListener('remote-media', (event) => {
    remoteMedia = event.detail;
    showPeerState();
    showRemote();
  });
  call.addEventListener('state', (event) => {
    const { state } = event.detail;
    status.dataset.state = state;
    say(status, t(stateKey(state), { name: peerName }));
    showRemote();
  });

  button('mute').addEventListener('click', () => {
    call.setAudio(!call.audioOn);
    showControls();
  });
  button('camera').addEventListener('click', async () => {
    try {
      await call.setVideo(!call.videoOn);
    } catch {
      say(peerState, t('call.check.help.nocamera'));
      peerState.hidden = false;
    }
    showLocal();
    showControls();
  });
  button('audio-only').addEventListener('click', async () => {
    audioOnly = !audioOnly;
    root.classList.toggle('audio-only', audioOnly);
    await call.setVideo(!audioOnly).catch(() => {});
    showLocal();
    showRemote();
    showControls();
  });
  wireChatToggle(button('chat'), chatPanel);
  button('hangup').addEventListener('click', () => onHangup());

  status.dataset.state = call.state;
  say(status, t(stateKey(call.active ? 'connecting' : 'idle')));
  showLocal();
  showRemote();
  showControls();
  showPeerState();

  return {
    refresh() {
      showLocal();
      showRemote();
      showControls();
    },
    close() {
      stopQuality();
      chat.clear();
      remote.srcObject = null;
      local.srcObject = null;
    },
  };
}

/**
 * What both call pages do with the signaling socket's life: a "reconnecting…" banner while it is down, and the
 * screen that closes the visit when the room ends, refuses us, or the socket closes for good (`closedScreen(code)`
 * names it). Returns `on(type, handler)` for the page's own events.
 */
export function followSignaling(signaling, { banner, finish, closedScreen }) {
  const on = (type, handler) => signaling.addEventListener(type, (event) => handler(event.detail));
  on('ended', () => finish('screen-ended'));
  on('error', (m) => {
    if (m.code === 'room_ended') finish('screen-ended');
    else if (m.code === 'room_not_found' || m.code === 'forbidden') finish('screen-failed');
  });
  on('reconnecting', () => {
    banner.hidden = false;
    say(banner, t('call.connection.lost'));
  });
  on('open', () => {
    banner.hidden = true;
  });
  on('failed', () => finish('screen-failed'));
  // Our own close and the close after 'ended'/'declined' come here too: finish() has run by then.
  on('closed', (m) => finish(closedScreen(m.code)));
  return on;
}
