// A timed model of the RP2040's UART (ARM PL011) for the emulated board, in place of
// rp2040js's own (which "sends" a byte the moment it is written, never drives the TX
// pin and never reports BUSY). What it does, at the pins and against the simulation
// clock:
//   - 32-deep TX and RX FIFOs (1 deep with LCR_H.FEN clear);
//   - the baud rate from IBRD/FBRD, latched by a write to LCR_H as in the PL011;
//   - a TX shift register that drives the TX pin bit by bit (start, 5-8 data bits LSB
//     first, optional parity, 1 or 2 stop bits), UARTFR.BUSY from the start bit until
//     the last stop bit has ended, BRK holding the line low;
//   - a receiver that starts on a falling edge of the RX pin, checks the start bit at
//     its centre and samples each bit at its centre, with framing (FE), parity (PE),
//     break (BE) and overrun (OE) errors;
//   - interrupts: TX at or below its IFLS level, RX at or above it, receive timeout
//     (RT) after 32 bit times without a character while the RX FIFO holds data, and
//     the error interrupts; DMA requests for TX (FIFO not full) and RX (not empty).
// Pins: UART0 is on GP0-3, 12-15, 16-19, 28-29 and UART1 on GP4-11, 20-27 (function 2),
// TX at index % 4 == 0, RX at 1. The board (board.mjs) tells the model about RX pin
// changes through rxEdge().

import { BasePeripheral } from 'rp2040js';

const DR = 0x00;
const RSR = 0x04;
const FR = 0x18;
const ILPR = 0x20;
const IBRD = 0x24;
const FBRD = 0x28;
const LCR_H = 0x2c;
const CR = 0x30;
const IFLS = 0x34;
const IMSC = 0x38;
const RIS = 0x3c;
const MIS = 0x40;
const ICR = 0x44;
const DMACR = 0x48;
const IDS = { 0xfe0: 0x11, 0xfe4: 0x10, 0xfe8: 0x34, 0xfec: 0x00, 0xff0: 0x0d, 0xff4: 0xf0, 0xff8: 0x05, 0xffc: 0xb1 };

// UARTFR
const BUSY = 1 << 3;
const RXFE = 1 << 4;
const TXFF = 1 << 5;
const RXFF = 1 << 6;
const TXFE = 1 << 7;
// LCR_H
const BRK = 1 << 0;
const PEN = 1 << 1;
const EPS = 1 << 2;
const STP2 = 1 << 3;
const FEN = 1 << 4;
const SPS = 1 << 7;
// CR
const UARTEN = 1 << 0;
const TXE = 1 << 8;
const RXE = 1 << 9;
// interrupts
const RXI = 1 << 4;
const TXI = 1 << 5;
const RTI = 1 << 6;
const FEI = 1 << 7;
const PEI = 1 << 8;
const BEI = 1 << 9;
const OEI = 1 << 10;
// DR error bits
const FE_BIT = 1 << 8;
const PE_BIT = 1 << 9;
const BE_BIT = 1 << 10;
const OE_BIT = 1 << 11;

const LEVELS = [4, 8, 16, 24, 28]; // IFLS: 1/8 .. 7/8 of 32

class Fifo {
  constructor(size) {
    this.buf = new Uint16Array(32);
    this.size = size;
    this.start = 0;
    this.count = 0;
  }
  push(v) {
    if (this.count >= this.size) return false;
    this.buf[(this.start + this.count) % 32] = v;
    this.count++;
    return true;
  }
  pull() {
    if (!this.count) return 0;
    const v = this.buf[this.start];
    this.start = (this.start + 1) % 32;
    this.count--;
    return v;
  }
  get full() {
    return this.count >= this.size;
  }
}

export function uartOfPin(index) {
  return ((index + 4) >> 3) & 1;
}

export class TimedUart extends BasePeripheral {
  constructor(rp2040, name, index, irq, dreq) {
    super(rp2040, name);
    this.index = index;
    this.irq = irq;
    this.dreq = dreq;
    this.clock = rp2040.clock;
    this.ibrd = 0;
    this.fbrd = 0;
    this.divisor = 0; // latched IBRD + FBRD / 64
    this.lcr = 0;
    this.cr = RXE | TXE;
    this.ifls = 0x12;
    this.imsc = 0;
    this.ris = 0;
    this.dmacr = 0;
    this.rsr = 0;
    this.tx = new Fifo(1);
    this.rx = new Fifo(1);
    this.txLevel = 1; // the TX pin
    this.txBits = null; // the character being shifted out: levels, one per bit
    this.txBit = 0;
    this.rxBusy = false;
    this.rxBits = [];
    this.rxNeed = 0;
    this.txChars = 0;
    this.rxChars = 0;
    this.txAlarm = this.clock.createAlarm(() => this.txStep());
    this.rxAlarm = this.clock.createAlarm(() => this.rxSample());
    this.rtAlarm = this.clock.createAlarm(() => this.rxTimeout());
    this.onTxLevel = null; // (level) => void, set by the board
    this.rxLevel = () => true; // the RX pin's level, set by the board
  }

  get bitNanos() {
    const d = this.divisor || this.ibrd + this.fbrd / 64 || 1;
    return (16 * d * 1e9) / this.rp2040.clkPeri;
  }

  get wordLength() {
    return 5 + ((this.lcr >> 5) & 3);
  }

  get baudRate() {
    return this.rp2040.clkPeri / (16 * (this.divisor || 1));
  }

  fifoSizes() {
    const n = this.lcr & FEN ? 32 : 1;
    this.tx.size = n;
    this.rx.size = n;
  }

  parity(v, n) {
    if (this.lcr & SPS) return this.lcr & EPS ? 0 : 1;
    let ones = 0;
    for (let i = 0; i < n; i++) ones += (v >> i) & 1;
    const even = this.lcr & EPS;
    return even ? ones & 1 : (ones & 1) ^ 1;
  }

  // --- transmit ---------------------------------------------------------------------

  txStart() {
    if (this.txBits || !this.tx.count || !(this.cr & UARTEN) || !(this.cr & TXE)) return;
    const v = this.tx.pull();
    const n = this.wordLength;
    const bits = [0];
    for (let i = 0; i < n; i++) bits.push((v >> i) & 1);
    if (this.lcr & PEN) bits.push(this.parity(v, n));
    bits.push(1);
    if (this.lcr & STP2) bits.push(1);
    this.txBits = bits;
    this.txBit = 0;
    this.txChars++;
    this.setTx(0);
    this.txAlarm.schedule(this.bitNanos);
    this.txLevelChanged();
  }

  txStep() {
    this.txBit++;
    if (this.txBit < this.txBits.length) {
      this.setTx(this.txBits[this.txBit]);
      this.txAlarm.schedule(this.bitNanos);
      return;
    }
    this.txBits = null; // the last stop bit has ended: not BUSY
    this.txStart();
  }

  setTx(level) {
    const v = this.lcr & BRK ? 0 : level;
    if (v !== this.txLevel) {
      this.txLevel = v;
      this.onTxLevel?.(v);
    }
  }

  txLevelChanged() {
    // TX interrupt while the FIFO is at or below its level (empty, without FIFOs)
    const limit = this.lcr & FEN ? LEVELS[Math.min(this.ifls & 7, 4)] : 0;
    if (this.tx.count <= limit) this.ris |= TXI;
    else this.ris &= ~TXI;
    this.updateDreq();
    this.checkInterrupts();
  }

  // --- receive ----------------------------------------------------------------------

  rxEdge(level) {
    if (level || this.rxBusy || !(this.cr & UARTEN) || !(this.cr & RXE)) return;
    this.rxBusy = true;
    this.rxBits = [];
    this.rxNeed = 1 + this.wordLength + (this.lcr & PEN ? 1 : 0) + 1;
    this.rxAlarm.schedule(this.bitNanos / 2); // the start bit's centre
  }

  rxSample() {
    const bit = this.rxLevel() ? 1 : 0;
    if (this.rxBits.length === 0 && bit) {
      this.rxBusy = false; // a glitch, not a start bit
      return;
    }
    this.rxBits.push(bit);
    if (this.rxBits.length < this.rxNeed) {
      this.rxAlarm.schedule(this.bitNanos);
      return;
    }
    this.rxBusy = false;
    const n = this.wordLength;
    let v = 0;
    for (let i = 0; i < n; i++) v |= this.rxBits[1 + i] << i;
    let flags = 0;
    if (this.lcr & PEN && this.rxBits[1 + n] !== this.parity(v, n)) flags |= PE_BIT;
    const stop = this.rxBits[this.rxNeed - 1];
    if (!stop) flags |= FE_BIT;
    if (!stop && this.rxBits.every((b) => b === 0)) flags |= BE_BIT;
    this.rxChars++;
    if (!this.rx.push(v | flags)) {
      this.rsr |= 8; // overrun: the character is lost
      this.ris |= OEI;
    }
    if (flags & FE_BIT) this.ris |= FEI;
    if (flags & PE_BIT) this.ris |= PEI;
    if (flags & BE_BIT) this.ris |= BEI;
    this.ris &= ~RTI;
    this.rtAlarm.schedule(32 * this.bitNanos);
    this.rxLevelChanged();
    if (!stop) return; // the line is low: the next character starts after it goes high
    if (!this.rxLevel()) this.rxEdge(0);
  }

  rxTimeout() {
    if (this.rx.count) {
      this.ris |= RTI;
      this.checkInterrupts();
    }
  }

  rxLevelChanged() {
    const limit = this.lcr & FEN ? LEVELS[Math.min((this.ifls >> 3) & 7, 4)] : 1;
    if (this.rx.count >= limit) this.ris |= RXI;
    else this.ris &= ~RXI;
    if (!this.rx.count) this.ris &= ~RTI;
    this.updateDreq();
    this.checkInterrupts();
  }

  // --- registers --------------------------------------------------------------------

  updateDreq() {
    const { dma } = this.rp2040;
    if (this.dmacr & 2 && !this.tx.full) dma.setDREQ(this.dreq.tx);
    else dma.clearDREQ(this.dreq.tx);
    if (this.dmacr & 1 && this.rx.count) dma.setDREQ(this.dreq.rx);
    else dma.clearDREQ(this.dreq.rx);
  }

  checkInterrupts() {
    this.rp2040.setInterrupt(this.irq, !!(this.ris & this.imsc));
  }

  get flags() {
    return (
      (this.txBits ? BUSY : 0) |
      (this.rx.count ? 0 : RXFE) |
      (this.tx.full ? TXFF : 0) |
      (this.rx.full ? RXFF : 0) |
      (this.tx.count ? 0 : TXFE)
    );
  }

  readUint32(offset) {
    switch (offset) {
      case DR: {
        const v = this.rx.pull();
        this.rsr = (this.rsr & 8) | ((v >> 8) & 7);
        this.rxLevelChanged();
        return v;
      }
      case RSR:
        return this.rsr;
      case FR:
        return this.flags;
      case ILPR:
        return 0;
      case IBRD:
        return this.ibrd;
      case FBRD:
        return this.fbrd;
      case LCR_H:
        return this.lcr;
      case CR:
        return this.cr;
      case IFLS:
        return this.ifls;
      case IMSC:
        return this.imsc;
      case RIS:
        return this.ris;
      case MIS:
        return this.ris & this.imsc;
      case DMACR:
        return this.dmacr;
    }
    if (offset in IDS) return IDS[offset];
    return super.readUint32(offset);
  }

  writeUint32(offset, value) {
    switch (offset) {
      case DR:
        this.tx.push(value & 0xff);
        this.txLevelChanged();
        this.txStart();
        break;
      case RSR:
        this.rsr = 0;
        break;
      case ILPR:
        break;
      case IBRD:
        this.ibrd = value & 0xffff;
        break;
      case FBRD:
        this.fbrd = value & 0x3f;
        break;
      case LCR_H:
        this.lcr = value & 0xff;
        this.divisor = this.ibrd + this.fbrd / 64;
        this.fifoSizes();
        if (this.txBits) this.setTx(this.txBits[this.txBit]);
        else this.setTx(1);
        this.txLevelChanged();
        break;
      case CR:
        this.cr = value & 0xffff;
        this.txStart();
        break;
      case IFLS:
        this.ifls = value & 0x3f;
        this.txLevelChanged();
        this.rxLevelChanged();
        break;
      case IMSC:
        this.imsc = value & 0x7ff;
        this.checkInterrupts();
        break;
      case ICR:
        this.ris &= ~(this.rawWriteValue & 0x7ff);
        this.checkInterrupts();
        break;
      case DMACR:
        this.dmacr = value & 7;
        this.updateDreq();
        break;
      default:
        super.writeUint32(offset, value);
    }
  }
}
