// The citizen's page: device check -> knock -> waiting room -> call -> end.
import { Call } from './call.js';
import { followSignaling, mountCall } from './callview.js';
import { DeviceCheck } from './devicecheck.js';
import { showScreen } from './i18n.js';
import { Signaling } from './signaling.js';

const page = document.getElementById('call');
const banner = document.getElementById('connection-banner');
const check = new DeviceCheck(document.getElementById('screen-check'));
const knock = document.querySelector('[data-action="knock"]');
let signaling = null;
let call = null;
let view = null;
let over = false;

window.ascolto = { hangup: () => finish(null) };

check.addEventListener('done', () => {
  knock.disabled = !check.supported;
});
check.start();

knock.addEventListener('click', () => {
  check.finish();
  showScreen('screen-waiting');
  join();
});

function join() {
  signaling = new Signaling(page.dataset.room);
  call = new Call({ signaling, role: 'citizen', stream: check.stream });
  Object.assign(window.ascolto, { signaling, call });
  Object.defineProperty(window.ascolto, 'pc', { get: () => call && call.pc, configurable: true });
  const on = followSignaling(signaling, {
    banner,
    finish,
    closedScreen: (code) => ({ 4000: 'screen-replaced', 4001: 'screen-ended' })[code] || 'screen-failed',
  });
  on('welcome', (m) => (m.state === 'in_call' ? enterCall() : showScreen('screen-waiting')));
  on('admitted', () => enterCall());
  on('declined', () => finish('screen-declined'));
  signaling.connect();
}

function enterCall() {
  if (view) return;
  showScreen('screen-call');
  view = mountCall(document.getElementById('screen-call'), call, { onHangup: () => finish('screen-left') });
  call.start();
}

function finish(screen) {
  if (over) return;
  over = true;
  banner.hidden = true;
  if (view) view.close();
  if (call) call.stop();
  else check.stopTracks();
  check.finish();
  if (signaling) signaling.close();
  if (screen) showScreen(screen);
}

document.querySelector('[data-action="rejoin"]')?.addEventListener('click', () => location.reload());
