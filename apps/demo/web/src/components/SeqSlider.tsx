/**
 * The position in the log: a range slider over sequence numbers 0 (the
 * initial state) … last, with step buttons. The state shown everywhere is
 * the state after record `seq`.
 */

/** Props of `SeqSlider`. */
export interface SeqSliderProps {
  readonly seq: number;
  readonly last: number;
  readonly onSeq: (seq: number) => void;
}

/** The slider and its readout. */
export function SeqSlider({ seq, last, onSeq }: SeqSliderProps) {
  const go = (n: number) => onSeq(Math.min(last, Math.max(0, n)));
  return (
    <div class="slider">
      <button type="button" onClick={() => go(seq - 1)} disabled={seq <= 0} aria-label="previous record">
        ◀
      </button>
      <input
        type="range"
        class="range"
        min={0}
        max={last}
        step={1}
        value={seq}
        data-testid="seq-slider"
        aria-label="sequence number"
        onInput={(e) => go(Number((e.currentTarget as HTMLInputElement).value))}
      />
      <button type="button" onClick={() => go(seq + 1)} disabled={seq >= last} aria-label="next record">
        ▶
      </button>
      <span class="readout" data-testid="seq-readout">
        seq {seq} / {last}
      </span>
    </div>
  );
}
