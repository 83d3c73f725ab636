/**
 * The fault fd against a naive model of Linux eventq.c, for any sequence of
 * IOMMU_TEST_OP_TRIGGER_IOPF, read(2), write(2) and poll(2) on the mock:
 * read takes whole one-record groups from the head while they fit
 * (ESPIPE off a multiple of 40), each getting the lowest free cookie ≥ 1;
 * write answers responses in order up to the first bad one (ESPIPE off a
 * multiple of 8; EINVAL when the first is bad); poll is POLLOUT plus
 * POLLIN | POLLRDNORM while something waits to be read.
 */

import { IOMMU_IOCTL, IOMMU_TEST_OP, isErrno } from "@iommu-sim/uapi";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type IommufdFile, iommufdFilePoll, iommufdFileRead, iommufdFileWrite } from "../src/index";
import { Fixture, view } from "./fixture";
import { bytes } from "./harness";

type Op =
  | { kind: "trigger"; grpid: number; addr: number }
  | { kind: "read"; length: number }
  | { kind: "write"; records: { cookie: number; code: number }[]; extra: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("trigger" as const), grpid: fc.nat(511), addr: fc.nat(0xfffff) }),
  fc.record({
    kind: fc.constant("read" as const),
    length: fc.oneof(
      fc.nat(4).map((n) => n * 40),
      fc.nat(200),
    ),
  }),
  fc.record({
    kind: fc.constant("write" as const),
    records: fc.array(fc.record({ cookie: fc.nat(5), code: fc.nat(2) }), { maxLength: 3 }),
    extra: fc.oneof(fc.constant(0), fc.nat(7)),
  }),
);

/** The naive model: a deliver list and a cookie table. */
class Model {
  deliver: { grpid: number; addr: number }[] = [];
  response = new Map<number, { grpid: number; addr: number }>();

  read(length: number): number | { grpid: number; addr: number; cookie: number }[] {
    if (length % 40 !== 0) return -29;
    const out: { grpid: number; addr: number; cookie: number }[] = [];
    while (this.deliver.length > 0 && (out.length + 1) * 40 <= length) {
      let cookie = 1;
      while (this.response.has(cookie)) cookie++;
      const g = this.deliver.shift()!;
      this.response.set(cookie, g);
      out.push({ ...g, cookie });
    }
    return out;
  }

  write(records: { cookie: number; code: number }[], extra: number): number {
    if ((records.length * 8 + extra) % 8 !== 0) return -29;
    let done = 0;
    for (const r of records) {
      if (r.code > 1 || !this.response.has(r.cookie)) return done === 0 ? -22 : done;
      this.response.delete(r.cookie);
      done += 8;
    }
    return done;
  }
}

describe("the fault fd against a naive model", () => {
  it("reads, writes and polls as the model says", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 25 }), (ops) => {
        const f = new Fixture(1);
        const fa = bytes(16, [[0, 4, 16]]);
        expect(f.fd.ioctl(IOMMU_IOCTL.IOMMU_FAULT_QUEUE_ALLOC, fa)).toBe(0);
        const faultId = view(fa).getUint32(8, true);
        const file: IommufdFile = { kind: "fault", ctx: f.fd.ctx, id: view(fa).getUint32(12, true) };
        const ha = bytes(48, [
          [0, 4, 48],
          [4, 4, 1 << 2],
          [8, 4, f.idev],
          [12, 4, f.ioas],
          [40, 4, faultId],
        ]);
        expect(f.fd.ioctl(IOMMU_IOCTL.IOMMU_HWPT_ALLOC, ha)).toBe(0);
        const hwpt = view(ha).getUint32(16, true);
        expect(f.test(IOMMU_TEST_OP.IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, f.stdev, [[0, 4, hwpt]])[0]).toBe(0);
        const env = f.fd.env();
        const m = new Model();
        for (const o of ops) {
          if (o.kind === "trigger") {
            const rc = f.test(IOMMU_TEST_OP.IOMMU_TEST_OP_TRIGGER_IOPF, 0, [
              [0, 4, f.idev],
              [8, 4, o.grpid],
              [12, 4, 1],
              [16, 8, BigInt(o.addr) << 12n],
            ])[0];
            expect(rc).toBe(0);
            m.deliver.push({ grpid: o.grpid, addr: o.addr });
          } else if (o.kind === "read") {
            const want = m.read(o.length);
            const got = iommufdFileRead(env, file, o.length);
            if (typeof want === "number") {
              expect(isErrno(got) && got.ret).toBe(want);
              continue;
            }
            if (isErrno(got)) throw new Error(`${got}`);
            const v = new DataView(got.buffer, got.byteOffset, got.byteLength);
            const recs = want.map((_, i) => ({
              grpid: v.getUint32(i * 40 + 12, true),
              addr: Number(v.getBigUint64(i * 40 + 24, true) >> 12n),
              cookie: v.getUint32(i * 40 + 36, true),
            }));
            expect(got.length).toBe(want.length * 40);
            expect(recs).toEqual(want);
          } else {
            const b = new Uint8Array(o.records.length * 8 + o.extra);
            o.records.forEach((r, i) => {
              new DataView(b.buffer).setUint32(i * 8, r.cookie, true);
              new DataView(b.buffer).setUint32(i * 8 + 4, r.code, true);
            });
            const want = m.write(o.records, o.extra);
            const got = iommufdFileWrite(env, file, b);
            expect(isErrno(got) ? got.ret : got).toBe(want);
          }
          expect(iommufdFilePoll(env, file)).toBe(m.deliver.length > 0 ? 0x45 : 0x4);
        }
      }),
      { numRuns: 60 },
    );
  });
});
