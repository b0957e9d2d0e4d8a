import { createHash } from 'node:crypto';

// What the release makes of Node's binaries for the platforms these tests cannot run: macOS and
// Windows. There is no macOS here, and rcodesign's own `verify` is documented as unreliable.

const MH_MAGIC_64 = 0xfeedfacf;
const LC_SEGMENT_64 = 0x19;
const LC_CODE_SIGNATURE = 0x1d;
const CSMAGIC_EMBEDDED_SIGNATURE = 0xfade0cc0;
const CSMAGIC_CODEDIRECTORY = 0xfade0c02;
const CS_ADHOC = 0x2;
const CS_HASHTYPE_SHA256 = 2;

export interface MachOSignature {
  segments: string[];
  signed: boolean;
  identifier?: string;
  adhoc?: boolean;
  pages?: number;
  mismatchedPages?: number;
}

/**
 * A 64-bit Mach-O executable's embedded code signature, checked as macOS checks it before running
 * it: every page of the file up to codeLimit must hash to the digest the CodeDirectory holds.
 */
export function machOSignature(file: Buffer): MachOSignature {
  if (file.readUInt32LE(0) !== MH_MAGIC_64) throw new Error('not a 64-bit little-endian Mach-O file');
  const ncmds = file.readUInt32LE(16);
  const segments: string[] = [];
  let signature: { offset: number; size: number } | undefined;
  for (let i = 0, at = 32; i < ncmds; i++) {
    const cmd = file.readUInt32LE(at);
    if (cmd === LC_SEGMENT_64)
      segments.push(
        file
          .subarray(at + 8, at + 24)
          .toString('latin1')
          .replace(/\0+$/, ''),
      );
    if (cmd === LC_CODE_SIGNATURE) signature = { offset: file.readUInt32LE(at + 8), size: file.readUInt32LE(at + 12) };
    at += file.readUInt32LE(at + 4);
  }
  if (!signature) return { segments, signed: false };

  // The signature blobs are big-endian.
  const sb = signature.offset;
  if (file.readUInt32BE(sb) !== CSMAGIC_EMBEDDED_SIGNATURE) throw new Error('no embedded signature superblob');
  let cd = -1;
  for (let i = 0; i < file.readUInt32BE(sb + 8); i++) {
    if (file.readUInt32BE(sb + 12 + i * 8) === 0) cd = sb + file.readUInt32BE(sb + 16 + i * 8);
  }
  if (cd < 0 || file.readUInt32BE(cd) !== CSMAGIC_CODEDIRECTORY) throw new Error('no CodeDirectory');
  const flags = file.readUInt32BE(cd + 12);
  const hashOffset = file.readUInt32BE(cd + 16);
  const identOffset = file.readUInt32BE(cd + 20);
  const nCodeSlots = file.readUInt32BE(cd + 28);
  const codeLimit = file.readUInt32BE(cd + 32);
  const hashSize = file.readUInt8(cd + 36);
  const hashType = file.readUInt8(cd + 37);
  const pageSize = 2 ** file.readUInt8(cd + 39);
  if (hashType !== CS_HASHTYPE_SHA256) throw new Error(`unexpected hash type ${hashType}`);
  let mismatchedPages = 0;
  for (let page = 0; page < nCodeSlots; page++) {
    const start = page * pageSize;
    const digest = createHash('sha256')
      .update(file.subarray(start, Math.min(start + pageSize, codeLimit)))
      .digest();
    const stored = file.subarray(cd + hashOffset + page * hashSize, cd + hashOffset + (page + 1) * hashSize);
    if (!digest.equals(stored)) mismatchedPages++;
  }
  const identEnd = file.indexOf(0, cd + identOffset);
  return {
    segments,
    signed: true,
    identifier: file.subarray(cd + identOffset, identEnd).toString('utf8'),
    adhoc: (flags & CS_ADHOC) !== 0,
    pages: nCodeSlots,
    mismatchedPages,
  };
}

export interface PeFacts {
  pe32plus: boolean;
  /** The Authenticode certificate table (data directory 4), if any. */
  certificateTable?: { offset: number; size: number };
  /** A resource with this name (postject stores NODE_SEA_BLOB as one) appears in the file. */
  hasResourceNamed: (name: string) => boolean;
}

export function peFacts(file: Buffer): PeFacts {
  const pe = file.readUInt32LE(0x3c);
  if (file.readUInt32LE(pe) !== 0x4550) throw new Error('not a PE file');
  const pe32plus = file.readUInt16LE(pe + 24) === 0x20b;
  const security = pe + 24 + (pe32plus ? 112 : 96) + 4 * 8;
  const offset = file.readUInt32LE(security);
  const size = file.readUInt32LE(security + 4);
  return {
    pe32plus,
    certificateTable: size ? { offset, size } : undefined,
    // Resource directory names are length-prefixed UTF-16LE strings.
    hasResourceNamed: (name) => file.includes(Buffer.from(name, 'utf16le')),
  };
}
