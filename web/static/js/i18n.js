// The page's strings, embedded by the template as JSON (<script type="application/json" id="i18n">).
let strings = null;

function load() {
  if (strings === null) {
    const node = document.getElementById('i18n');
    try {
      strings = node ? JSON.parse(node.textContent) : {};
    } catch {
      strings = {};
    }
  }
  return strings;
}

/** t('call.key', {name: 'Maria'}) -> the text in the page's language, with {name} filled in. */
export function t(key, params = {}) {
  const text = load()[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/** Show one section of a page and hide its siblings; move focus to its heading for screen readers. */
export function showScreen(id) {
  const target = document.getElementById(id);
  if (!target) return;
  for (const screen of document.querySelectorAll('[data-screen]')) {
    screen.hidden = screen !== target;
  }
  const heading = target.querySelector('h1, h2');
  if (heading) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: false });
  }
}

/** Set an element's text (never HTML). */
export function say(el, text) {
  if (el && el.textContent !== text) el.textContent = text;
}
