// Drives the gateway's console page in headless Chromium (puppeteer-core):
// waits for `expect` on the terminal's screen, types `type` (when given)
// and waits for `answer` (a regular expression) after it; with
// `reconnect`, prints "ANSWERED", waits for the page to connect again
// (the caller restarts the gateway) and counts the answers on screen.
// Keeps a screenshot and prints {"text", "match", "firstByteMs",
// "loadMs", "answers", "connects"} as JSON on its last line.  Usage: node console_page.js '{"url", "chromium", "screenshot",
// "expect", "type", "answer", "timeoutMs"}'
'use strict';
const path = require('path');
const puppeteer = require(path.join(process.env.VMD_NODE_MODULES,
                                    'puppeteer-core'));

const opt = JSON.parse(process.argv[2]);

// every line of xterm's buffer (scrollback and screen)
function screenText() {
  const buf = window.vmdConsole.term.buffer.active;
  const lines = [];
  for (let i = 0; i < buf.length; i++)
    lines.push(buf.getLine(i).translateToString(true));
  return lines.join('\n');
}

async function waitText(page, re, timeoutMs, from = 0) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const text = await page.evaluate(screenText);
    const m = text.slice(from).match(re);
    if (m)
      return {text, m};
    if (Date.now() > end)
      throw new Error('timed out waiting for ' + re + ' in:\n' + text);
    await new Promise((r) => setTimeout(r, 100));
  }
}

(async () => {
  const browser = await puppeteer.launch({
    executablePath: opt.chromium,
    headless: true,
    acceptInsecureCerts: true,
    args: ['--no-sandbox', '--disable-gpu', '--ignore-certificate-errors'],
  });
  let out = {};
  try {
    const page = await browser.newPage();
    await page.setViewport({width: 1000, height: 600});
    const t0 = Date.now();
    await page.goto(opt.url, {waitUntil: 'load'});
    out.loadMs = Date.now() - t0;
    await page.waitForFunction(() => window.vmdConsole &&
                               window.vmdConsole.firstByte !== null,
                               {timeout: opt.timeoutMs});
    // from the navigation's start to the first console byte, in the page
    out.firstByteMs = await page.evaluate(() => window.vmdConsole.firstByte);
    let r = await waitText(page, new RegExp(opt.expect), opt.timeoutMs);
    if (opt.type) {
      // the guest's shell may not read its terminal yet: type again until
      // the answer shows up after what the screen held before
      const before = r.text.length;
      const re = new RegExp(opt.answer);
      const end = Date.now() + opt.timeoutMs;
      for (;;) {
        await page.keyboard.type(opt.type);
        await page.keyboard.press('Enter');
        try {
          r = await waitText(page, re, Math.min(15000, end - Date.now()),
                             Math.max(0, before - 200));
          break;
        } catch (e) {
          if (Date.now() >= end)
            throw e;
        }
      }
      out.match = r.m[0];
    }
    if (opt.reconnect) {
      // the caller restarts the gateway now; the page must reconnect and
      // show the scrollback once (reset first), with the answer in it
      process.stdout.write('ANSWERED\n');
      await page.waitForFunction(() => window.vmdConsole.connects >= 2,
                                 {timeout: opt.timeoutMs});
      r = await waitText(page, new RegExp(opt.answer), opt.timeoutMs);
      out.answers = r.text.split(r.m[0]).length - 1;
      out.connects = await page.evaluate(() => window.vmdConsole.connects);
    }
    out.text = r.text;
    out.status = await page.$eval('#status', (e) => e.textContent);
    await page.screenshot({path: opt.screenshot});
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(out) + '\n');
})().catch((e) => {
  process.stderr.write(String(e && e.stack || e) + '\n');
  process.exit(1);
});
