/**
 * Whose turn it is: the status words through which the kernel and the loop
 * hand RX blocks, RX frames and TX frames to each other (packet_mmap).
 * Every hand-off in the loop goes through one of these, named for who may
 * act next. x86-64 does not reorder stores, so writing a TX frame's length
 * before its status publishes it safely (the loop's stated target).
 */
import * as L from "../../ffi/layout.ts";

// Other modules' constants as module-local aliases: V8 folds these into the per-packet code,
// not imported bindings (bench/loop_bench.ts measured ~25 % more per packet with imports).
const TP2_LEN = L.TP2_LEN;
const TP2_STATUS = L.TP2_STATUS;
const TP_STATUS_AVAILABLE = L.TP_STATUS_AVAILABLE;
const TP_STATUS_SEND_REQUEST = L.TP_STATUS_SEND_REQUEST;
const TP_STATUS_USER = L.TP_STATUS_USER;
const TP_STATUS_WRONG_FORMAT = L.TP_STATUS_WRONG_FORMAT;

/** TP_STATUS_KERNEL: the kernel may fill this RX block or frame. */
const TP_STATUS_KERNEL = 0;

/** The RX block or frame whose status word is at `statusAt` is user space's to read. */
export function userOwns(view: DataView, statusAt: number): boolean {
  return (view.getUint32(statusAt, true) & TP_STATUS_USER) !== 0;
}

/** Gives an RX block or frame (its status word at `statusAt`) back to the kernel to fill. */
export function giveToKernel(view: DataView, statusAt: number): void {
  view.setUint32(statusAt, TP_STATUS_KERNEL, true);
}

/**
 * A TX frame with this status may be written: available, or refused by the
 * kernel earlier (TP_STATUS_WRONG_FORMAT, counted by the caller and reused).
 */
export function txFrameFree(status: number): boolean {
  return status === TP_STATUS_AVAILABLE || status === TP_STATUS_WRONG_FORMAT;
}

/** The status word of the TX frame at `frame`. */
export function txFrameStatus(view: DataView, frame: number): number {
  return view.getUint32(frame + TP2_STATUS, true);
}

/** Hands a written TX frame of `length` bytes to the kernel: sent at the next kick. */
export function queueTxFrame(view: DataView, frame: number, length: number): void {
  view.setUint32(frame + TP2_LEN, length, true);
  view.setUint32(frame + TP2_STATUS, TP_STATUS_SEND_REQUEST, true);
}
