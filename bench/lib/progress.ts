// A progress bar on stderr while the bench runs. Without a terminal it prints
// one line per step instead, so logs of background runs show where they are.
import cliProgress from 'cli-progress'

export class Progress {
  private readonly multi: cliProgress.MultiBar | undefined
  private bar: cliProgress.SingleBar | undefined
  private total = 0
  private done = 0
  private readonly startedMs = Date.now()
  private readonly enabled: boolean

  constructor(enabled: boolean) {
    if (enabled && process.stderr.isTTY) {
      this.multi = new cliProgress.MultiBar(
        {
          stream: process.stderr,
          format: ' {bar} {percentage}% | {value}/{total} | {duration_formatted} | {label}',
          hideCursor: true,
          clearOnComplete: true,
          etaBuffer: 20,
        },
        cliProgress.Presets.shades_classic,
      )
    }
    this.enabled = enabled
  }

  /** Whether text written to the terminal must go through log() to not garble the bar. */
  get drawing(): boolean {
    return this.multi !== undefined
  }

  addTotal(steps: number): void {
    this.total += steps
    if (this.multi) {
      this.bar ??= this.multi.create(this.total, 0, { label: 'starting' })
      this.bar.setTotal(this.total)
    }
  }

  /** Marks the start of a step (label is what is running now). */
  step(label: string): void {
    this.done++
    if (this.done > this.total) this.addTotal(this.done - this.total)
    if (this.bar) this.bar.update(this.done - 1, { label })
    else if (this.enabled) {
      const s = ((Date.now() - this.startedMs) / 1000).toFixed(0)
      process.stderr.write(`[bench ${s}s ${this.done}/${this.total}] ${label}\n`)
    }
  }

  log(text: string): void {
    if (this.multi) this.multi.log(text.endsWith('\n') ? text : `${text}\n`)
    else if (this.enabled) process.stderr.write(text.endsWith('\n') ? text : `${text}\n`)
  }

  stop(): void {
    if (this.bar) this.bar.update(this.total, { label: 'done' })
    this.multi?.stop()
  }
}
