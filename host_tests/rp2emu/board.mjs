// An emulated Raspberry Pi Pico for the tests: rp2040js's RP2040 with what a stock
// MicroPython rp2 image needs from it, run against its simulation clock.
//   - USB: the emulated host sends SET_ADDRESS 2 ms after the bus reset, as a real host
//     does (TinyUSB drops a SETUP that arrives with the reset); the CDC is the REPL.
//   - Flash: the boot ROM's flash_range_erase / flash_range_program act on the flash
//     array (connect_internal_flash, flash_exit_xip, flash_flush_cache and
//     flash_enter_cmd_xip return at once), so littlefs formats and files can be written.
//   - Core 1 does not exist: reads of the inter-core FIFO answer "valid, 0".
//   - PIO: each state machine steps at its divided clock from the simulation clock,
//     [delay] cycles and stalls included; FIFO join gives one 8-deep FIFO.
//   - UART: the timed PL011 model of uart.mjs, at the pins.
//   - The CPU runs against the simulation clock and skips the time it waits in WFI/WFE.
//   - The watchdog: feeds (LOAD writes) are counted and a trigger is reported.
// Nothing here knows about the firmware; serve.mjs puts a line protocol on top.

import { RP2040, USBCDC, setDeviceAddressPacket, FIFO, ConsoleLogger, LogLevel } from 'rp2040js';
import { TimedUart, uartOfPin } from './uart.mjs';

const FUNC_UART = 2;
const BKPT = 0xbe00;
const TRAPS = { RE: 1, RP: 2, IF: 3, EX: 3, FC: 3, CX: 3 }; // boot ROM codes -> action

function romCode(a, b) {
  return a.charCodeAt(0) | (b.charCodeAt(0) << 8);
}

export class Board {
  constructor(bootrom, image) {
    const mcu = (this.mcu = new RP2040());
    mcu.logger = new ConsoleLogger(LogLevel.Error);
    mcu.loadBootrom(bootrom);
    mcu.flash.set(image, 0);
    this.clock = mcu.clock;
    this.flashOps = { erase: 0, program: 0 };
    this.events = []; // [nanos, kind, detail]
    this.edges = []; // [nanos, pin, level] for watched pins
    this.watched = new Set();
    this.cdcOut = [];
    this.feeds = 0;
    this.lastFeed = null;
    this.installFlashTraps();
    this.installSio();
    this.installUarts();
    this.installPio();
    this.installUsb();
    this.installWatchdog();
    for (const pin of mcu.gpio) {
      pin.addListener((value) => {
        if (this.watched.has(pin.index)) this.edges.push([this.clock.nanos, pin.index, this.levelOf(pin)]);
      });
    }
    mcu.core.PC = 0x10000000; // boot2 at the start of the image, then the vector table
  }

  levelOf(pin) {
    return pin.outputEnable ? (pin.outputValue ? 1 : 0) : pin.pullupEnabled || pin.rawInputValue ? 1 : 0;
  }

  // --- boot ROM flash functions -------------------------------------------------------

  installFlashTraps() {
    const mcu = this.mcu;
    const rom = new DataView(mcu.bootrom.buffer);
    const table = rom.getUint16(0x14, true);
    const actions = new Map();
    for (let p = table; ; p += 4) {
      const code = rom.getUint16(p, true);
      if (!code) break;
      for (const [name, action] of Object.entries(TRAPS)) {
        if (code === romCode(name[0], name[1])) actions.set(rom.getUint16(p + 2, true) & ~1, action);
      }
    }
    let n = 0;
    const byCode = new Map();
    for (const [addr, action] of actions) {
      byCode.set(++n, action);
      rom.setUint16(addr, BKPT | n, true);
    }
    mcu.onBreak = (code) => {
      const action = byCode.get(code);
      const core = mcu.core;
      if (action === undefined) {
        this.events.push([this.clock.nanos, 'break', code]);
        this.stopped = 'break';
        return;
      }
      const r = core.registers;
      if (action === 1) {
        mcu.flash.fill(0xff, r[0], r[0] + r[1]);
        this.flashOps.erase++;
      } else if (action === 2) {
        const src = r[1] - 0x20000000;
        mcu.flash.set(mcu.sram.subarray(src, src + r[2]), r[0]);
        this.flashOps.program++;
      }
      core.PC = core.LR & ~1;
    };
  }

  // --- SIO: no core 1 -----------------------------------------------------------------

  installSio() {
    const sio = this.mcu.sio;
    const read = sio.readUint32.bind(sio);
    const write = sio.writeUint32.bind(sio);
    sio.readUint32 = (offset) => {
      if (offset === 0x50) return 0b11; // FIFO_ST: VLD, RDY
      if (offset === 0x58) return 0; // FIFO_RD
      return read(offset);
    };
    sio.writeUint32 = (offset, value) => {
      if (offset === 0x50 || offset === 0x54) return; // FIFO_ST (clear), FIFO_WR
      write(offset, value);
    };
  }

  // --- UART ---------------------------------------------------------------------------

  installUarts() {
    const mcu = this.mcu;
    const bases = [0x40034, 0x40038];
    this.uart = mcu.uart.map((old, i) => {
      const u = new TimedUart(mcu, old.name, i, old.irq, old.dreq);
      mcu.peripherals[bases[i]] = u;
      u.onTxLevel = () => {
        for (const pin of mcu.gpio) {
          if (pin.functionSelect === FUNC_UART && uartOfPin(pin.index) === i && (pin.index & 3) === 0) {
            pin.checkForUpdates();
          }
        }
      };
      u.rxLevel = () => {
        for (const pin of mcu.gpio) {
          if (pin.functionSelect === FUNC_UART && uartOfPin(pin.index) === i && (pin.index & 3) === 1) {
            return pin.inputValue;
          }
        }
        return true;
      };
      return u;
    });
    for (const pin of mcu.gpio) {
      const proto = Object.getPrototypeOf(pin);
      const oe = Object.getOwnPropertyDescriptor(proto, 'rawOutputEnable').get;
      const ov = Object.getOwnPropertyDescriptor(proto, 'rawOutputValue').get;
      const uart = this.uart[uartOfPin(pin.index)];
      const tx = (pin.index & 3) === 0;
      Object.defineProperty(pin, 'rawOutputEnable', {
        get: () => (pin.functionSelect === FUNC_UART ? tx : oe.call(pin)),
      });
      Object.defineProperty(pin, 'rawOutputValue', {
        get: () => (pin.functionSelect === FUNC_UART ? (tx ? !!uart.txLevel : false) : ov.call(pin)),
      });
    }
  }

  // --- PIO ----------------------------------------------------------------------------

  installPio() {
    const mcu = this.mcu;
    for (const pio of mcu.pio) {
      pio.run = () => this.schedulePio(pio); // no setTimeout loop: stepped below
      pio.stepAlarm = this.clock.createAlarm(() => this.stepPio(pio));
      for (const m of pio.machines) {
        m.dueNanos = 0;
        m.seenCycles = 0;
        const write = m.writeUint32.bind(m);
        m.writeUint32 = (offset, value) => {
          write(offset, value);
          if (offset === 0x04) this.joinFifos(m); // SHIFTCTRL
        };
      }
    }
  }

  joinFifos(m) {
    const tx = m.shiftCtrl & (1 << 30) ? 8 : m.shiftCtrl & (1 << 31) ? 0 : 4;
    const rx = m.shiftCtrl & (1 << 31) ? 8 : m.shiftCtrl & (1 << 30) ? 0 : 4;
    if (m.txFIFO.size !== tx) m.txFIFO = new FIFO(Math.max(tx, 1));
    if (m.rxFIFO.size !== rx) m.rxFIFO = new FIFO(Math.max(rx, 1));
    if (tx === 0) m.txFIFO.push = () => {}; // a joined-away FIFO takes nothing
    if (rx === 0) m.rxFIFO.push = () => {};
    m.updateDMATx();
    m.updateDMARx();
  }

  periodOf(m) {
    const div = (m.clockDivInt || 65536) + m.clockDivFrac / 256;
    return (div * 1e9) / this.mcu.clkSys;
  }

  schedulePio(pio) {
    const now = this.clock.nanos;
    for (const m of pio.machines) {
      if (m.enabled && m.dueNanos < now) m.dueNanos = now;
      m.seenCycles = m.cycles;
    }
    this.nextPio(pio);
  }

  nextPio(pio) {
    let next = Infinity;
    for (const m of pio.machines) if (m.enabled && m.dueNanos < next) next = m.dueNanos;
    if (next === Infinity || pio.stopped) {
      pio.stepAlarm.cancel();
      return;
    }
    pio.stepAlarm.schedule(Math.max(0, next - this.clock.nanos));
  }

  stepPio(pio) {
    const now = this.clock.nanos;
    for (const m of pio.machines) {
      if (!m.enabled || m.dueNanos > now + 0.001) continue;
      let used;
      if (m.waiting) {
        m.checkWait();
        if (m.waiting) used = 1;
      }
      if (used === undefined) {
        const pending = m.cycles - m.seenCycles; // delays of a wait that ended meanwhile
        if (pending > 0) {
          used = pending;
        } else {
          m.step();
          used = Math.max(1, m.cycles - m.seenCycles);
        }
      }
      m.seenCycles = m.cycles;
      m.dueNanos += used * this.periodOf(m);
    }
    pio.checkChangedPins();
    this.nextPio(pio);
  }

  // --- USB ----------------------------------------------------------------------------

  installUsb() {
    const usb = this.mcu.usbCtrl;
    const cdc = (this.cdc = new USBCDC(usb));
    const addr = this.clock.createAlarm(() => usb.sendSetupPacket(setDeviceAddressPacket(1)));
    usb.onResetReceived = () => addr.schedule(2e6);
    this.connected = false;
    cdc.onDeviceConnected = () => {
      this.connected = true;
      this.events.push([this.clock.nanos, 'usb', 'connected']);
    };
    cdc.onSerialData = (data) => {
      for (const b of data) this.cdcOut.push(b);
    };
    // A real host NAKs an OUT endpoint it has nothing for; rp2040js answers at once
    // with an empty packet, and the device polls again 10 us later: the CPU never
    // sleeps. Hold the read until there is something to send.
    const read = usb.onEndpointRead;
    this.heldRead = null;
    usb.onEndpointRead = (endpoint, size) => {
      if (endpoint === cdc.outEndpoint) this.topUpCdc();
      if (endpoint === cdc.outEndpoint && !cdc.txFIFO.itemCount) this.heldRead = [endpoint, size];
      else read(endpoint, size);
    };
    this.releaseRead = () => {
      if (this.heldRead && cdc.txFIFO.itemCount) {
        const [endpoint, size] = this.heldRead;
        this.heldRead = null;
        read(endpoint, size);
      }
    };
    this.cdcIn = []; // bytes for the device, fed as the CDC's 512-byte FIFO has room
  }

  cdcWrite(bytes) {
    for (const b of bytes) this.cdcIn.push(b);
    this.feedCdc();
  }

  topUpCdc() {
    const fifo = this.cdc.txFIFO;
    if (this.cdcIn.length) {
      const n = Math.min(this.cdcIn.length, 512 - fifo.itemCount);
      for (let i = 0; i < n; i++) fifo.push(this.cdcIn[i]);
      this.cdcIn.splice(0, n);
    }
  }

  feedCdc() {
    this.topUpCdc();
    this.releaseRead();
  }

  // --- watchdog -----------------------------------------------------------------------

  installWatchdog() {
    const wd = this.mcu.peripherals[0x40058];
    const write = wd.writeUint32.bind(wd);
    wd.writeUint32 = (offset, value) => {
      if (offset === 0x04) {
        this.feeds++;
        this.lastFeed = this.clock.nanos;
      }
      write(offset, value);
    };
    wd.onWatchdogTrigger = () => {
      this.events.push([this.clock.nanos, 'watchdog', 'reset']);
      this.stopped = 'watchdog';
    };
  }

  // --- pins from outside ----------------------------------------------------------------

  /** Set an input pin's level as an outside device drives it. */
  drive(index, level) {
    const pin = this.mcu.gpio[index];
    pin.setInputValue(!!level);
    if (this.watched.has(index)) this.edges.push([this.clock.nanos, index, level ? 1 : 0]);
    if (pin.functionSelect === FUNC_UART && (index & 3) === 1) this.uart[uartOfPin(index)].rxEdge(level ? 1 : 0);
  }

  /** Drive a pin through a list of [nanos, level] changes (absolute times). */
  driveAt(index, changes) {
    for (const [t, level] of changes) {
      const alarm = this.clock.createAlarm(() => this.drive(index, level));
      alarm.schedule(Math.max(0, t - this.clock.nanos));
    }
  }

  // --- running ------------------------------------------------------------------------

  /** Run until the simulation clock reaches `until` (nanos) or stop() says why not. */
  run(until, check) {
    const mcu = this.mcu;
    const core = mcu.core;
    const clock = this.clock;
    this.stopped = null;
    let n = 0;
    while (clock.nanos < until && !this.stopped) {
      const cycleNanos = 1e9 / mcu.clkSys;
      if (core.waiting) {
        // skip to the next alarm (it may raise the interrupt that ends the wait)
        if (this.cdcIn.length || this.heldRead) this.feedCdc();
        if (check && check()) break;
        if (!core.waiting) continue;
        const alarm = clock.nextAlarm;
        const left = until - clock.nanos;
        clock.tick(alarm ? Math.min(Math.max(0, alarm.nanos - clock.nanos), left) : left);
      } else {
        clock.tick(core.executeInstruction() * cycleNanos);
      }
      if (++n >= 4096) {
        n = 0;
        if (this.cdcIn.length || this.heldRead) this.feedCdc();
        if (check && check()) break;
      }
    }
    return this.stopped;
  }
}
