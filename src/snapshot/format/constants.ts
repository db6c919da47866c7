// Byte-level constants of the canonical full-snapshot format (docs/FORMAT.md).
// Every multi-byte integer is little-endian; every checksum is CRC-32 with the
// zlib/IEEE polynomial (node:zlib crc32), stored as u32le.
import type { CompressionCodec } from '../types.js'

export const FORMAT_VERSION = 1
/** Versions this reader understands. */
export const SUPPORTED_FORMAT_VERSIONS: readonly number[] = [1]

/** "KSFULL\r\n": the CR LF catches files mangled by text-mode transfers, as PNG's signature does. */
export const FILE_MAGIC = Buffer.from('KSFULL\r\n', 'latin1')
/** magic[8] | u16 formatVersion | u8 codec | u8 flags | u32 headerCrc */
export const FILE_HEADER_BYTES = 16
/** u32 metaLength | u32 metaCrc | u32 headerCrc */
export const META_HEADER_BYTES = 12
/** u8 recordType | u8 flags | u16 keyGroup | u32 storedLength | u32 rawLength | u32 payloadCrc | u32 headerCrc */
export const BLOCK_HEADER_BYTES = 20
/** u8 recordType | u8 flags | u16 reserved | u32 keyGroupCount | u32 blockCount | u32 tableCrc | u32 headerCrc */
export const INDEX_HEADER_BYTES = 20
export const INDEX_ENTRY_BYTES = 8
/** u64 indexOffset | u32 footerCrc | magic[4] */
export const FOOTER_BYTES = 16
export const FOOTER_MAGIC = Buffer.from('KSFE', 'latin1')
/** Inside a block payload: u32 stateIndex | u32 sectionLength */
export const SECTION_HEADER_BYTES = 8

export const RECORD_BLOCK = 0x01
export const RECORD_INDEX = 0x02
/** Block flag: this block is the last one of its key group (the key-group end mark). */
export const BLOCK_FLAG_LAST = 0x01

export const CODEC_IDS: Readonly<Record<CompressionCodec, number>> = { none: 0, snappy: 1 }
export const CODEC_NAMES: Readonly<Record<number, CompressionCodec>> = { 0: 'none', 1: 'snappy' }

/** Writers start a new block of a key group once its raw payload would exceed this. */
export const DEFAULT_BLOCK_RAW_BYTES_MAX = 4 * 1024 * 1024
/** Readers refuse blocks claiming more raw bytes than this (a single entry can exceed the writer bound). */
export const BLOCK_RAW_BYTES_LIMIT = 1024 * 1024 * 1024
/** Readers refuse a meta-info record larger than this. */
export const META_BYTES_LIMIT = 64 * 1024 * 1024
