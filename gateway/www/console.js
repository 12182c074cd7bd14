/* The console page of /console/NAME: xterm.js on the gateway's console
 * websocket.  The token comes in the page's fragment (#token=vmd_...),
 * which browsers never send to a server; the page keeps it in
 * sessionStorage for reconnects and takes it out of the address bar.  It
 * goes to the gateway as the websocket's first message.  On every
 * (re)connect vmd sends the scrollback again, so the terminal is reset on
 * a connection's first bytes: nothing is shown twice. */
'use strict';
(function () {
  const name = decodeURIComponent(location.pathname.split('/').pop());
  const status = document.getElementById('status');
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  let token = sessionStorage.getItem('vmd-token:' + name);
  if (m) {
    token = decodeURIComponent(m[1]);
    sessionStorage.setItem('vmd-token:' + name, token);
    history.replaceState(null, '', location.pathname + location.search);
  }
  if (!token)
    token = window.prompt('vmd token for ' + name) || '';
  document.getElementById('vm').textContent = name;

  const term = new Terminal({scrollback: 10000});
  const fit = new FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open(document.getElementById('term'));
  fit.fit();
  window.addEventListener('resize', () => fit.fit());
  term.focus();

  const enc = new TextEncoder();
  let ws = null;
  let delay = 1000;
  window.vmdConsole = {term: term, firstByte: null, connects: 0};

  function connect() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const url = scheme + '//' + location.host + '/api/v1/vms/' +
                encodeURIComponent(name) + '/console';
    let fresh = true;
    ws = new WebSocket(url, ['vmd-console']);
    ws.binaryType = 'arraybuffer';
    ws.onopen = function () {
      ws.send(token);
      status.textContent = 'connected';
      window.vmdConsole.connects++;
    };
    ws.onmessage = function (ev) {
      if (typeof ev.data === 'string') {   /* {"mode": "ro", "reason"} */
        try {
          const said = JSON.parse(ev.data);
          if (said.mode === 'ro')
            status.textContent = 'connected, read-only (' + said.reason + ')';
        } catch (e) { /* not ours to show */ }
        return;
      }
      if (fresh) {
        term.reset();
        fresh = false;
        delay = 1000;
      }
      if (window.vmdConsole.firstByte === null)
        window.vmdConsole.firstByte = performance.now();
      term.write(new Uint8Array(ev.data));
    };
    ws.onclose = function (ev) {
      ws = null;
      const why = ev.reason || ('code ' + ev.code);
      if (ev.code === 1008) {   /* refused: a new try would be too */
        status.textContent = 'closed: ' + why;
        return;
      }
      status.textContent = 'disconnected (' + why + '); reconnecting';
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }
  term.onData(function (d) {
    if (ws && ws.readyState === WebSocket.OPEN)
      ws.send(enc.encode(d));
  });
  connect();
})();
