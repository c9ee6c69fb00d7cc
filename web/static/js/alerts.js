// Real-time alerts for supervisors and coordinators (GET /ws/alerts, protocol version 1).
//
// Included by base.html on every staff page of a supervisor or coordinator. Each alert is shown as a visible,
// accessible message (role="alert") with the case code and a link to the case; never a citizen's name (the
// server sends none). The socket reconnects like signaling.js, with backoff and jitter, and never gives up while
// the page is open (a refused handshake backs off to the longest delay).

const VERSION = 1;
const FINAL_CODES = new Set([1008]);

export class Alerts extends EventTarget {
  constructor({ baseDelay = 500, maxDelay = 30000 } = {}) {
    super();
    this.baseDelay = baseDelay;
    this.maxDelay = maxDelay;
    this.ws = null;
    this.attempt = 0;
    this.finished = false;
    this.timer = null;
  }

  get url() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${scheme}//${location.host}/ws/alerts`;
  }

  get connected() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  connect() {
    if (this.finished) return;
    clearTimeout(this.timer);
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this.retry();
      return;
    }
    this.ws = ws;
    ws.addEventListener('open', () => {
      if (ws !== this.ws) return;
      this.attempt = 0;
      this.emit('open', {});
    });
    ws.addEventListener('message', (event) => {
      if (ws !== this.ws) return;
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (!message || message.v !== VERSION || message.type !== 'alert') return;
      this.emit('alert', message);
    });
    ws.addEventListener('close', (event) => {
      if (ws !== this.ws) return;
      this.ws = null;
      if (FINAL_CODES.has(event.code)) this.finished = true;
      if (!this.finished) this.retry();
    });
  }

  retry() {
    const ceiling = Math.min(this.maxDelay, this.baseDelay * 2 ** this.attempt);
    const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
    this.attempt += 1;
    this.emit('reconnecting', { attempt: this.attempt, delay });
    this.timer = setTimeout(() => this.connect(), delay);
  }

  close() {
    this.finished = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000);
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

function region() {
  let box = document.getElementById('staff-alerts');
  if (!box) {
    box = document.createElement('section');
    box.id = 'staff-alerts';
    box.className = 'staff-alerts';
    const main = document.getElementById('main');
    (main || document.body).prepend(box);
  }
  return box;
}

function show(alert, texts) {
  const item = document.createElement('div');
  item.className = 'card alert';
  item.setAttribute('role', 'alert');
  item.dataset.case = alert.case;
  const title = document.createElement('strong');
  title.textContent = `${texts.title} ${alert.case}`;
  const when = document.createElement('span');
  const at = new Date(alert.at);
  when.textContent = Number.isNaN(at.getTime()) ? '' : ` · ${at.toLocaleTimeString()}`;
  const link = document.createElement('a');
  link.href = `${texts.caseUrl}${encodeURIComponent(alert.case_id)}`;
  link.textContent = texts.open;
  link.className = 'alert-link';
  const dismiss = document.createElement('button');
  dismiss.type = 'button';
  dismiss.className = 'link';
  dismiss.textContent = texts.dismiss;
  dismiss.addEventListener('click', () => item.remove());
  item.append(title, when, ' ', link, ' ', dismiss);
  region().prepend(item);
}

function start() {
  const tag = document.querySelector('script[data-alerts]');
  const data = tag ? tag.dataset : {};
  const texts = {
    title: data.title || 'High risk:',
    open: data.open || 'Open the case',
    dismiss: data.dismiss || 'Dismiss',
    caseUrl: data.caseUrl || '/cases/',
  };
  const alerts = new Alerts();
  alerts.addEventListener('alert', (event) => show(event.detail, texts));
  alerts.connect();
  window.ascoltoAlerts = alerts;
}

start();
