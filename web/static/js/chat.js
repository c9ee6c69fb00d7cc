// The ephemeral chat: lines live only in this page's memory (never stored, not even in localStorage); the
// button that shows and hides its panel.
import { say, t } from './i18n.js';

const MAX = 2000;

function clock(at) {
  const when = at ? new Date(at) : new Date();
  return Number.isNaN(when.getTime()) ? '' : when.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

export class Chat {
  constructor(root, signaling) {
    this.root = root;
    this.signaling = signaling;
    this.log = root.querySelector('[data-chat="log"]');
    this.form = root.querySelector('[data-chat="form"]');
    this.input = root.querySelector('[data-chat="input"]');
    this.note = root.querySelector('[data-chat="note"]');
    this.unread = 0;
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.send();
    });
    signaling.addEventListener('chat', (event) => {
      const m = event.detail;
      this.add(m.name || t('call.chat.them'), String(m.text || ''), m.at, 'them');
    });
  }

  send() {
    const text = this.input.value.trim().slice(0, MAX);
    if (!text) return;
    if (this.signaling.send('chat', { text })) {
      this.add(t('call.chat.me'), text, null, 'me');
      this.input.value = '';
      say(this.note, '');
    } else {
      say(this.note, t('call.chat.not_sent'));
    }
  }

  add(name, text, at, who) {
    const item = document.createElement('li');
    item.className = `chat-line ${who}`;
    const head = document.createElement('span');
    head.className = 'chat-head';
    head.textContent = `${name} · ${clock(at)}`;
    const body = document.createElement('span');
    body.className = 'chat-text';
    body.textContent = text;
    item.append(head, body);
    this.log.append(item);
    this.log.scrollTop = this.log.scrollHeight;
    this.root.dispatchEvent(new CustomEvent('chat-line', { detail: { who } }));
  }

  /** Forget every line (at the end of the call). */
  clear() {
    this.log.replaceChildren();
  }
}

/** The chat button: shows and hides the panel, and is marked unread when a line comes while the panel is hidden. */
export function wireChatToggle(button, panel) {
  button.addEventListener('click', () => {
    const open = panel.hidden;
    panel.hidden = !open;
    button.setAttribute('aria-expanded', String(open));
    button.classList.remove('unread');
    if (open) panel.querySelector('input').focus();
  });
  panel.addEventListener('chat-line', (event) => {
    if (event.detail.who === 'them' && panel.hidden) button.classList.add('unread');
  });
}
