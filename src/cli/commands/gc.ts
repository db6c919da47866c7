import { collectGarbage, DEFAULT_GC_GRACE_PERIOD_MS } from '../../checkpoint/gc.js'
import { openStorageRoot } from '../lib/open.js'
import { formatBytes, progress, table, writeJson, writeLine, type Progress } from '../lib/output.js'

export async function gcCommand(root: string, options: { delete?: boolean; graceMs?: number; json?: boolean }): Promise<number> {
  const storage = await openStorageRoot(root)
  let bar: Progress | undefined
  const report = await collectGarbage(storage, {
    delete: options.delete ?? false,
    gracePeriodMs: options.graceMs ?? DEFAULT_GC_GRACE_PERIOD_MS,
    onProgress: (_done, total) => {
      bar ??= progress('deleting', total)
      bar.increment()
    },
  })
  bar?.stop()
  const failed = report.failed.length > 0
  if (options.json) {
    await writeJson({ root: storage.location, gracePeriodMs: options.graceMs ?? DEFAULT_GC_GRACE_PERIOD_MS, deleteRequested: options.delete ?? false, ...report })
    return failed ? 1 : 0
  }
  const lines: string[] = []
  if (report.orphans.length === 0 && report.staleUploads.length === 0) {
    lines.push(`no orphans in ${storage.location} (${report.scannedFiles} files, ${report.referencedFiles} referenced)`)
  } else {
    lines.push(table(['ORPHAN', 'SIZE', 'MODIFIED'], report.orphans.map((e) => [e.path, formatBytes(e.sizeBytes), new Date(e.mtimeMs).toISOString()])))
    lines.push('')
    lines.push(
      options.delete
        ? `deleted ${report.deleted.length} of ${report.orphans.length} orphans (${formatBytes(report.orphanBytes)})`
        : `${report.orphans.length} orphans (${formatBytes(report.orphanBytes)}); run again with --delete to remove them`,
    )
  }
  if (report.staleUploads.length > 0) {
    lines.push(
      options.delete
        ? `aborted ${report.abortedUploads.length} incomplete multipart upload(s) of ${report.staleUploads.length}`
        : `${report.staleUploads.length} incomplete multipart upload(s) older than the grace period; run again with --delete to abort them`,
    )
  }
  if (report.youngUploads.length > 0) lines.push(`kept ${report.youngUploads.length} multipart upload(s) younger than the grace period`)
  if (report.tooYoung.length > 0) lines.push(`kept ${report.tooYoung.length} unreferenced file(s) younger than the grace period or still in use`)
  if (report.foreign.length > 0) lines.push(`ignored ${report.foreign.length} file(s) outside the checkpoint directories`)
  for (const p of report.problems) lines.push(`problem: ${p}`)
  for (const f of report.failed) lines.push(`could not delete ${f.path}: ${f.error}`)
  await writeLine(lines.join('\n'))
  return failed ? 1 : 0
}
