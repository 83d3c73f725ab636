/**
 * One process's slot, served by the daemon (protocol.md, "Shared slot";
 * the transport as a whole is described in shm.ts): find a request, check
 * it, hand it to the session, store the reply.
 */
import { encodeFrame, type Frame, HEADER_SIZE, MAX_FRAME, MSG, REPLY } from "./protocol";
import type { Reply } from "./session";
import { fence, monotonicMicros, SLOT, slotSum } from "./slot";
import type { SlotIo } from "./slot-io";

/** What a channel needs of its connection. */
export interface ChannelPeer {
  /** Answer one request frame (Session.handle). */
  handle(frame: Frame): Reply;
  /** Send `bytes` on the connection's socket (a WAKE | REPLY). */
  send(bytes: Uint8Array): void;
  /** The slot is unusable or the session asked to close: end the connection. */
  close(): void;
}

/** The WAKE | REPLY frame: the reply is in the slot. */
const WAKE_REPLY = encodeFrame(MSG.WAKE | REPLY, 0, new Uint8Array(0));

/** Bytes copied by each poll that finds a request: the header and the start of the request frame (most requests fit). */
const FIRST_READ = 512;

/**
 * One process's slot, served by the daemon. The request is copied out of
 * the slot before it is checked and decoded, so a program that rewrites
 * it meanwhile changes nothing the daemon acts on.
 */
export class ShmChannel {
  private lastSeq = 0;
  private closed = false;
  /** A reply was stored and the shim's `sleeping` has not been looked at since. */
  private wakeOwed = false;
  /** The header and request as read: SLOT.REQ + MAX_FRAME bytes. */
  private readonly buf = new Uint8Array(SLOT.REQ + MAX_FRAME);
  private readonly view = new DataView(this.buf.buffer);

  constructor(
    private readonly io: SlotIo,
    private readonly peer: ChannelPeer,
  ) {}

  /** Whether the channel is gone (closed, or failed and closed its connection). */
  get isClosed(): boolean {
    return this.closed;
  }

  /** How the slot is reached: "mapped" or "pread" (slot-io.ts). */
  get kind(): SlotIo["kind"] {
    return this.io.kind;
  }

  /**
   * Serve the request waiting in the slot, if any.
   * @returns true if a request was served (or the channel failed: nothing more to poll).
   */
  poll(): boolean {
    if (this.closed) return false;
    try {
      const peeked = this.io.peek(SLOT.REQ_SEQ);
      if (peeked === this.lastSeq) return this.idle(this.io.peek(SLOT.SLEEPING)!);
      let got = this.io.read(this.buf, 0, SLOT.REQ + FIRST_READ, 0);
      if (got < SLOT.REQ + HEADER_SIZE) return this.fail();
      if (this.view.getUint32(SLOT.REQ_SEQ, true) === this.lastSeq) {
        return this.idle(this.view.getUint32(SLOT.SLEEPING, true));
      }
      let frame = this.request(got);
      if (frame === undefined) {
        // Torn (the kernel's copy may load out of order): read again; the shim stored req_seq last.
        got = this.io.read(this.buf, 0, SLOT.REQ + FIRST_READ, 0);
        if (got < SLOT.REQ + HEADER_SIZE) return this.fail();
        frame = this.request(got);
        if (frame === undefined) return this.fail();
      }
      this.lastSeq = this.view.getUint32(SLOT.REQ_SEQ, true);
      this.wakeOwed = false;
      const reply = this.peer.handle(frame);
      if (reply.close === true || !("send" in reply)) {
        this.peer.close();
        return true;
      }
      this.io.storeReply(this.lastSeq, slotSum(this.lastSeq, reply.send), monotonicMicros(), reply.send);
      fence();
      // `sleeping` is read by the next poll (the poller always polls once more before it goes idle).
      this.wakeOwed = true;
      return true;
    } catch {
      return this.fail();
    }
  }

  /**
   * No new request; `sleeping` is the shim's flag as just read. The
   * handshake's daemon side: the reply was stored (and fenced) before it.
   */
  private idle(sleeping: number): false {
    if (this.wakeOwed && sleeping !== 0) {
      this.wakeOwed = false;
      this.peer.send(WAKE_REPLY);
    }
    return false;
  }

  /** Set or clear `polling` (the shim sends WAKE only while it is clear). */
  setPolling(on: boolean): void {
    this.setWord(SLOT.POLLING, on ? 1 : 0);
  }

  /** Set `route`: true sends the shim's requests to the socket (see shm.ts). */
  setRoute(socket: boolean): void {
    this.setWord(SLOT.ROUTE, socket ? 1 : 0);
  }

  private setWord(offset: number, value: number): void {
    if (this.closed) return;
    try {
      this.io.storeWord(offset, value);
    } catch {
      this.fail();
    }
  }

  /** Let go of the slot. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.io.close();
  }

  /**
   * The request frame in `buf` (`got` bytes read so far; the rest of a long
   * frame is read now), or undefined when its length is impossible or its
   * sum does not match `req_sum`.
   */
  private request(got: number): Frame | undefined {
    const length = this.view.getUint32(SLOT.REQ, true);
    if (length < HEADER_SIZE || length > MAX_FRAME) return undefined;
    const need = SLOT.REQ + length;
    if (need > got && this.io.read(this.buf, got, need - got, got) !== need - got) return undefined;
    const bytes = this.buf.subarray(SLOT.REQ, need);
    const seq = this.view.getUint32(SLOT.REQ_SEQ, true);
    if (slotSum(seq, bytes) !== this.view.getUint32(SLOT.REQ_SUM, true)) return undefined;
    return {
      type: this.view.getUint16(SLOT.REQ + 4, true),
      flags: this.view.getUint16(SLOT.REQ + 6, true),
      tag: this.view.getUint32(SLOT.REQ + 8, true),
      body: bytes.subarray(HEADER_SIZE),
    };
  }

  private fail(): true {
    this.close();
    this.peer.close();
    return true;
  }
}
