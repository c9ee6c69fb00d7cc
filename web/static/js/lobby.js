// The operator's lobby: who is waiting, since when, Admit / Decline; alerts even with the tab in the background
// (a chime, a desktop notification when allowed, and a count in the tab title).
import { say, t } from './i18n.js';
import { audioContext, knockChime } from './sound.js';

function minutesSince(iso) {
  const since = Date.parse(iso);
  return Number.isNaN(since) ? 0 : Math.max(0, Math.floor((Date.now() - since) / 60000));
}

function clock(iso) {
  const when = new Date(iso);
  return Number.isNaN(when.getTime()) ? '' : when.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

export class Lobby {
  constructor(root, signaling) {
    this.root = root;
    this.signaling = signaling;
    this.list = root.querySelector('[data-lobby="list"]');
    this.empty = root.querySelector('[data-lobby="empty"]');
    this.announce = root.querySelector('[data-lobby="announce"]');
    this.notifyButton = root.querySelector('[data-action="notify"]');
    this.baseTitle = document.title;
    this.waiting = [];
    this.known = new Set();
    signaling.addEventListener('lobby', (event) => this.update(event.detail.waiting || []));
    this.list.addEventListener('click', (event) => this.onClick(event));
    this.setupNotifications();
    this.setupSound(root.querySelector('[data-action="sound"]'));
    setInterval(() => this.render(), 30000);
  }

  update(waiting) {
    const fresh = waiting.filter((w) => !this.known.has(w.id));
    this.waiting = waiting;
    this.known = new Set(waiting.map((w) => w.id));
    this.render();
    document.title = waiting.length ? `(${waiting.length}) ${this.baseTitle}` : this.baseTitle;
    if (fresh.length) this.alert(fresh);
    else if (!waiting.length) say(this.announce, '');
  }

  render() {
    const items = this.waiting.map((w) => {
      const li = document.createElement('li');
      li.dataset.id = w.id;
      const who = document.createElement('span');
      who.className = 'who';
      const name = document.createElement('strong');
      name.textContent = w.name;
      const since = document.createElement('span');
      since.className = 'muted';
      since.textContent = t('call.lobby.since', { time: clock(w.since), minutes: minutesSince(w.since) });
      who.append(name, since);
      const admit = document.createElement('button');
      admit.type = 'button';
      admit.className = 'primary';
      admit.dataset.lobbyAction = 'admit';
      admit.textContent = t('call.lobby.admit');
      admit.setAttribute('aria-label', t('call.lobby.admit_name', { name: w.name }));
      const decline = document.createElement('button');
      decline.type = 'button';
      decline.dataset.lobbyAction = 'decline';
      decline.textContent = t('call.lobby.decline');
      decline.setAttribute('aria-label', t('call.lobby.decline_name', { name: w.name }));
      const actions = document.createElement('span');
      actions.className = 'actions';
      actions.append(admit, decline);
      li.append(who, actions);
      return li;
    });
    this.list.replaceChildren(...items);
    this.empty.hidden = items.length > 0;
  }

  onClick(event) {
    const target = event.target.closest('[data-lobby-action]');
    if (!target) return;
    const id = target.closest('li').dataset.id;
    target.disabled = true;
    this.signaling.send(target.dataset.lobbyAction, { id });
  }

  alert(fresh) {
    const names = fresh.map((w) => w.name).join(', ');
    say(this.announce, t('call.lobby.knock', { name: names }));
    knockChime();
    if ('Notification' in window && Notification.permission === 'granted' && document.hidden) {
      // No names in the notification: it may show on a shared screen.
      const note = new Notification(t('call.lobby.notify_title'), { body: t('call.lobby.notify_body'), tag: 'ascolto' });
      note.addEventListener('click', () => {
        window.focus();
        note.close();
      });
    }
    const first = this.list.querySelector('[data-lobby-action="admit"]');
    if (first && !document.hidden && !document.activeElement?.matches('input, textarea')) first.focus();
  }

  /** Browsers keep sound off until the page is clicked: offer a button so the chime works in the background. */
  setupSound(button) {
    const ctx = audioContext();
    if (!button || !ctx || ctx.state !== 'suspended') return;
    button.hidden = false;
    const done = () => {
      button.hidden = true;
    };
    ctx.addEventListener('statechange', () => ctx.state === 'running' && done());
    button.addEventListener('click', () => {
      ctx.resume().then(done, done);
      knockChime();
    });
  }

  setupNotifications() {
    const button = this.notifyButton;
    if (!button) return;
    if (!('Notification' in window) || Notification.permission !== 'default') {
      button.hidden = true;
      return;
    }
    button.hidden = false;
    button.addEventListener('click', async () => {
      const answer = await Notification.requestPermission();
      button.hidden = true;
      say(this.announce, t(answer === 'granted' ? 'call.lobby.notify_on' : 'call.lobby.notify_off'));
    });
  }
}
