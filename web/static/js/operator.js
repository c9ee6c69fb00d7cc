// The operator's page: compact device check, then straight into the room; lobby, call, end of session.
import { Call } from './call.js';
import { followSignaling, mountCall } from './callview.js';
import { DeviceCheck } from './devicecheck.js';
import { say, showScreen, t } from './i18n.js';
import { Lobby } from './lobby.js';
import { Signaling } from './signaling.js';

const page = document.getElementById('call');
const banner = document.getElementById('connection-banner');

// Reloading after the create POST must not post again: this page's own URL goes in the history.
if (page.dataset.url && location.pathname !== page.dataset.url) history.replaceState(null, '', page.dataset.url);

wireCopy();

const check = new DeviceCheck(document.getElementById('device-check'));
const signaling = new Signaling(page.dataset.room);
const call = new Call({ signaling, role: 'operator', stream: check.stream });
const lobby = new Lobby(document.getElementById('lobby'), signaling);
let view = null;
let over = false;

window.ascolto = { signaling, call, lobby, hangup: () => finish(null) };
Object.defineProperty(window.ascolto, 'pc', { get: () => call.pc });

followSignaling(signaling, {
  banner,
  finish,
  closedScreen: (code) => ({ 4000: 'screen-replaced', 1008: 'screen-failed' })[code] || 'screen-ended',
});

check.addEventListener('done', () => {
  call.stream = check.stream;
  view = mountCall(document.getElementById('screen-call'), call, { onHangup: askToEnd });
  signaling.connect();
});
check.start();

call.addEventListener('state', (event) => {
  if (event.detail.state === 'connected') {
    document.getElementById('device-check').open = false;
    check.finish();
  }
});

const dialog = document.getElementById('end-dialog');
document.querySelector('[data-action="end"]').addEventListener('click', askToEnd);
dialog.addEventListener('close', () => {
  if (dialog.returnValue === 'end') {
    signaling.send('end');
    finish('screen-ended');
  }
});

function askToEnd() {
  dialog.returnValue = '';
  dialog.showModal();
}

function finish(screen) {
  if (over) return;
  over = true;
  banner.hidden = true;
  if (view) view.close();
  call.stop();
  check.finish();
  signaling.close();
  document.title = lobby.baseTitle;
  if (screen) showScreen(screen);
}

function wireCopy() {
  const button = document.querySelector('[data-copy="join-link"]');
  const source = document.getElementById('join-link');
  if (!button || !source) return;
  const status = document.getElementById('copy-status');
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(source.value);
      say(status, t('call.copy.done'));
    } catch {
      source.focus();
      source.select();
      say(status, t('call.copy.select'));
    }
  });
}
