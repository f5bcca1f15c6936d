// The player UI's script: sends the forms to /service/wish/*, shows answers in place,
// formats times and countdowns, and shows push notifications, refreshing live parts.
(function () {
  'use strict';
  var body = document.body;
  var data = JSON.parse((document.getElementById('ui-data') || {}).textContent || '{}');
  var lang = body.dataset.lang || 'zh';
  var T = data.texts || {};
  var ERR = data.errors || {};

  function message(answer) {
    var reducer = data.reducer || {};
    if (lang === 'en' && answer.error === 'REDUCER_ERROR' && reducer[answer.error_msg]) {
      return reducer[answer.error_msg];
    }
    var tpl = lang === 'en' && ERR[answer.error];
    if (tpl) {
      var n = (String(answer.error_msg || '').match(/[0-9]+(\.[0-9]+)?/) || [''])[0];
      return tpl.replace('{n}', n);
    }
    return answer.error_msg || answer.error || '?';
  }

  function post(url, payload, raw) {
    var opts = {
      method: raw ? 'PUT' : 'POST',
      credentials: 'same-origin',
      headers: { 'X-Wish-Version': data.wish }
    };
    if (raw) {
      opts.body = payload;
    } else {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(payload || {});
    }
    return fetch(url, opts).then(function (r) {
      return r.json().catch(function () {
        return { error: 'HTTP_' + r.status, error_msg: T.network_error + ' (' + r.status + ')' };
      });
    });
  }

  function localize(root) {
    var locale = lang === 'en' ? 'en-GB' : 'zh-CN';
    (root || document).querySelectorAll('time[data-ts]').forEach(function (el) {
      var d = new Date(Number(el.dataset.ts) * 1000);
      el.dateTime = d.toISOString();
      el.textContent = d.toLocaleString(locale, { hour12: false });
    });
  }

  function pad(n) { return (n < 10 ? '0' : '') + n; }
  function duration(s) {
    if (s <= 0) return '0:00:00';
    var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600);
    var m = Math.floor(s % 3600 / 60), sec = Math.floor(s % 60);
    return (d ? d + (lang === 'en' ? 'd ' : '天 ') : '') + h + ':' + pad(m) + ':' + pad(sec);
  }
  var loaded = Date.now();
  function tick() {
    var now = Date.now() / 1000;
    document.querySelectorAll('[data-countdown]').forEach(function (el) {
      el.textContent = duration(Number(el.dataset.countdown) - now);
    });
    document.querySelectorAll('[data-countdown-s]').forEach(function (el) {
      var left = Number(el.dataset.countdownS) - (Date.now() - loaded) / 1000;
      el.textContent = Math.max(0, Math.ceil(left));
    });
  }

  // Re-reads the page and swaps every [data-live] part, keeping what the player types.
  function refresh() {
    return fetch(location.href, { credentials: 'same-origin' })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, 'text/html');
        document.querySelectorAll('[data-live]').forEach(function (el) {
          var fresh = doc.getElementById(el.id);
          if (fresh) {
            var node = document.importNode(fresh, true);
            el.replaceWith(node);
            localize(node);
          }
        });
        tick();
      })
      .catch(function () {});
  }

  function toast(text) {
    var box = document.getElementById('toasts');
    if (!box) return;
    var item = document.createElement('div');
    item.className = 'toast';
    var span = document.createElement('span');
    span.textContent = text;
    var close = document.createElement('button');
    close.type = 'button';
    close.textContent = T.close || '×';
    close.addEventListener('click', function () { item.remove(); });
    item.appendChild(span);
    item.appendChild(close);
    box.appendChild(item);
    setTimeout(function () { item.remove(); }, 15000);
  }

  function show(form, text, ok) {
    var out = form.querySelector('.form-msg');
    if (!out) return;
    out.textContent = text;
    out.className = 'form-msg ' + (ok ? 'ok' : 'err');
  }

  function then(form) {
    var next = form.dataset.then;
    if (next === 'reload') return refresh();
    if (next) location.assign(next);
  }

  function fields(form) {
    var out = {};
    form.querySelectorAll('input[name], textarea[name]').forEach(function (el) {
      out[el.name] = el.value;
    });
    return out;
  }

  function showFieldErrors(form, errors) {
    var first = null;
    form.querySelectorAll('[data-error-for]').forEach(function (p) {
      var name = p.dataset.errorFor;
      var input = form.querySelector('[name="' + name + '"]');
      p.textContent = errors[name] || '';
      if (input) {
        if (errors[name]) {
          input.setAttribute('aria-invalid', 'true');
          first = first || input;
        } else {
          input.removeAttribute('aria-invalid');
        }
      }
    });
    if (first) first.focus();
    return !first;
  }

  function send(form) {
    var name = form.dataset.wish;
    var v = fields(form);
    var key = form.dataset.key;
    if (name === 'submit_flag') return post('/service/wish/submit_flag', { challenge_key: key, flag: v.flag.trim() });
    if (name === 'submit_feedback') return post('/service/wish/submit_feedback', { challenge_key: key, feedback: v.feedback });
    if (name === 'agree_term') return post('/service/wish/agree_term', {});
    if (name === 'update_profile') {
      return post('/ui/profile_check', { profile: v }).then(function (check) {
        if (check.errors && !showFieldErrors(form, check.errors)) return { error: 'FIELDS', error_msg: '' };
        return post('/service/wish/update_profile', { profile: v });
      });
    }
    return Promise.resolve({ error: 'UNKNOWN', error_msg: name });
  }

  function upload(form) {
    var file = form.querySelector('input[type=file]').files[0];
    if (file && file.size > Number(form.dataset.maxMb) * 1048576) {
      return Promise.resolve({ error: 'FILE_TOO_LARGE', error_msg: 'Writeup 文件太大' });
    }
    return post('/service/wish/writeup', new FormData(form), true);
  }

  document.addEventListener('submit', function (ev) {
    var form = ev.target;
    if (!form.dataset.wish && !form.dataset.upload) return;
    ev.preventDefault();
    var button = form.querySelector('button[type=submit]');
    if (button) button.disabled = true;
    show(form, T.sending, true);
    (form.dataset.upload ? upload(form) : send(form))
      .then(function (answer) {
        if (answer.error === 'FIELDS') {
          show(form, '', false);
        } else if (answer.error) {
          show(form, message(answer), false);
        } else {
          show(form, form.dataset.ok || '✓', true);
          if (form.dataset.wish === 'submit_flag') form.querySelector('[name=flag]').value = '';
          return then(form);
        }
      })
      .catch(function () { show(form, T.network_error, false); })
      .then(function () { if (button) button.disabled = false; });
  });

  function pushText(m) {
    switch (m.type) {
      case 'new_announcement': return T.push_announcement + ': ' + m.title;
      case 'tick_update': return T.push_tick + ': ' + m.new_tick_name;
      case 'flag_first_blood':
      case 'challenge_first_blood':
        return T.push_first_blood + ' · ' + m.board_name + ': ' + (m.nickname || '--') + ' — ' + m.challenge + (m.flag ? ' / ' + m.flag : '');
      case 'reload_user': return T.push_reload;
      default: return null;
    }
  }

  var delay = 1000;
  function connect() {
    var ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/service/ws/push');
    ws.onopen = function () { delay = 1000; body.dataset.pushState = 'open'; };
    ws.onmessage = function (ev) {
      var m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      var text = pushText(m);
      if (text) toast(text);
      refresh();
    };
    ws.onclose = function (ev) {
      body.dataset.pushState = 'closed';
      if (ev.code === 4337) return;
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 60000);
    };
  }

  localize();
  tick();
  setInterval(tick, 1000);
  if (body.dataset.push) connect();
})();
