// The emulated Pico behind a line protocol, for host_tests/rp2emu.py: one JSON request
// a line on stdin, one JSON answer a line on stdout. Simulated time moves only when the
// client says "run", so a Python-side peer (a simulated heater) works in lockstep.
//   {"op": "boot", "bootrom": path (4096 little-endian u32), "image": path (.bin),
//    "high": [pins an outside device holds high from the start]}
//   {"op": "run", "for": nanos, "until_text": str?}  run; stop early when the USB
//       console has printed until_text since this request began. Answers with what
//       happened meanwhile: {"t", "cdc" (hex), "edges": [[t, pin, level]...],
//       "events": [[t, kind, detail]...], "stopped", "feeds", "last_feed", "uart": [...]}
//   {"op": "cdc", "data": hex}                 bytes typed on the USB console
//   {"op": "watch", "pins": [..]}              report these pins' changes
//   {"op": "drive", "pin": n, "changes": [[t, level]...]}   an outside device drives a pin
//   {"op": "quit"}

import fs from 'fs';
import readline from 'readline';
import { Board } from './board.mjs';

let board = null;

function hex(bytes) {
  return Buffer.from(bytes).toString('hex');
}

function handle(req) {
  switch (req.op) {
    case 'boot': {
      const rom = fs.readFileSync(req.bootrom);
      const words = new Uint32Array(rom.buffer.slice(rom.byteOffset, rom.byteOffset + rom.length));
      board = new Board(words, new Uint8Array(fs.readFileSync(req.image)));
      for (const pin of req.high || []) board.drive(pin, 1); // lines an outside device holds high
      return { t: 0 };
    }
    case 'run': {
      const until = board.clock.nanos + req.for;
      let seen = '';
      const text = req.until_text;
      const check = text
        ? () => {
            if (board.cdcOut.length > seen.length) seen = Buffer.from(board.cdcOut).toString('latin1');
            return seen.includes(text);
          }
        : null;
      const wall = Date.now();
      const stopped = board.run(until, check);
      const answer = {
        t: board.clock.nanos,
        cdc: hex(board.cdcOut),
        edges: board.edges,
        events: board.events,
        stopped,
        feeds: board.feeds,
        last_feed: board.lastFeed,
        uart: board.uart.map((u) => ({ tx: u.txChars, rx: u.rxChars, baud: u.baudRate })),
        wall_ms: Date.now() - wall,
      };
      board.cdcOut = [];
      board.edges = [];
      board.events = [];
      return answer;
    }
    case 'cdc':
      board.cdcWrite(Buffer.from(req.data, 'hex'));
      return {};
    case 'watch':
      for (const p of req.pins) board.watched.add(p);
      return {};
    case 'drive':
      board.driveAt(req.pin, req.changes);
      return {};
    case 'quit':
      process.exit(0);
  }
  throw new Error('unknown op ' + req.op);
}

const lines = readline.createInterface({ input: process.stdin });
lines.on('line', (line) => {
  let answer;
  try {
    answer = { ok: true, ...handle(JSON.parse(line)) };
  } catch (e) {
    answer = { ok: false, error: String(e && e.stack ? e.stack : e) };
  }
  process.stdout.write(JSON.stringify(answer) + '\n');
});
lines.on('close', () => process.exit(0));
