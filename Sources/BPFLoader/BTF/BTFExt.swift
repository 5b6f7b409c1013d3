/// One `bpf_func_info` record: the function starting at `insnOffset` has FUNC type `typeID`.
struct FuncInfoRecord: Sendable, Equatable {
    /// In bytes from the start of the ELF section, as in the file; the kernel wants instructions.
    var insnOffset: UInt32
    var typeID: UInt32
}

/// One `bpf_line_info` record, tying an instruction to a source line.
struct LineInfoRecord: Sendable, Equatable {
    /// In bytes from the start of the ELF section, as in the file.
    var insnOffset: UInt32
    var fileNameOffset: UInt32
    var lineOffset: UInt32
    var lineCol: UInt32

    var line: UInt32 { lineCol >> 10 }
    var column: UInt32 { lineCol & 0x3ff }
}

/// `enum bpf_core_relo_kind` from the kernel's uapi `bpf.h`.
enum CORERelocationKind: UInt32, Sendable, CaseIterable {
    case fieldByteOffset = 0, fieldByteSize, fieldExists, fieldSigned, fieldLShiftU64, fieldRShiftU64
    case typeIDLocal, typeIDTarget, typeExists, typeSize, enumValueExists, enumValueValue, typeMatches
}

/// One `bpf_core_relo` record.
struct CORERelocationRecord: Sendable, Equatable {
    /// In bytes from the start of the ELF section, as in the file.
    var insnOffset: UInt32
    var typeID: UInt32
    var accessStrOffset: UInt32
    /// Nil for a kind newer than this loader; `rawKind` still says which.
    var kind: CORERelocationKind?
    var rawKind: UInt32
}

/// The `.BTF.ext` section: per-ELF-section function, line and CO-RE relocation records. Section
/// names and strings index the `.BTF` string table, so parsing needs the BTF.
/// A .BTF.ext record that points at an instruction by byte offset.
protocol OffsetRecord { var insnOffset: UInt32 { get } }
extension FuncInfoRecord: OffsetRecord {}
extension LineInfoRecord: OffsetRecord {}

struct BTFExt: Sendable {
    static let magic: UInt16 = 0xEB9F

    var funcInfo: [String: [FuncInfoRecord]] = [:]
    var lineInfo: [String: [LineInfoRecord]] = [:]
    var coreRelocations: [String: [CORERelocationRecord]] = [:]

    init(bytes: [UInt8], btf: BTF, path: String) throws {
        func fail(_ message: String) -> LoaderError { LoaderError(.open, file: path, at: "section '.BTF.ext'", message) }
        var r = ByteReader(bytes)
        guard let magic = r.u16(), let version = r.u8(), r.u8() != nil, let hdrLen = r.u32(),
              let funcOff = r.u32(), let funcLen = r.u32(), let lineOff = r.u32(), let lineLen = r.u32() else {
            throw fail("truncated header (\(bytes.count) bytes, need 24)")
        }
        guard magic == Self.magic else { throw fail("bad magic 0x\(String(magic, radix: 16)), expected 0xeb9f") }
        guard version == 1 else { throw fail("unsupported version \(version), expected 1") }
        guard hdrLen >= 24, Int(hdrLen) <= bytes.count else { throw fail("header length \(hdrLen) is outside 24...\(bytes.count)") }
        var coreOff: UInt32 = 0, coreLen: UInt32 = 0
        if hdrLen >= 32 { coreOff = r.u32()!; coreLen = r.u32()! }   // hdrLen <= bytes.count makes these safe

        let blocks = InfoBlocks(bytes: bytes, base: Int(hdrLen), btf: btf, fail: fail)
        funcInfo = try blocks.parse("func_info", offset: funcOff, length: funcLen, minRecordSize: 8) { r in
            FuncInfoRecord(insnOffset: r.u32()!, typeID: r.u32()!)
        }
        lineInfo = try blocks.parse("line_info", offset: lineOff, length: lineLen, minRecordSize: 16) { r in
            LineInfoRecord(insnOffset: r.u32()!, fileNameOffset: r.u32()!, lineOffset: r.u32()!, lineCol: r.u32()!)
        }
        coreRelocations = try blocks.parse("core_relo", offset: coreOff, length: coreLen, minRecordSize: 16) { r in
            let insn = r.u32()!, type = r.u32()!, access = r.u32()!, kind = r.u32()!
            return CORERelocationRecord(insnOffset: insn, typeID: type, accessStrOffset: access,
                                        kind: CORERelocationKind(rawValue: kind), rawKind: kind)
        }
        try checkStrings(btf: btf, fail: fail)
        funcInfo = funcInfo.mapValues(Self.sortedByOffset)
        lineInfo = lineInfo.mapValues(Self.sortedByOffset)
    }

    /// clang writes func_info and line_info sorted by offset; a file that does not is sorted
    /// here (keeping the file's order among equal offsets) so `slice(of:in:)` can search.
    private static func sortedByOffset<R: OffsetRecord>(_ records: [R]) -> [R] {
        if zip(records, records.dropFirst()).allSatisfy({ $0.insnOffset <= $1.insnOffset }) { return records }
        return records.enumerated().sorted { ($0.element.insnOffset, $0.offset) < ($1.element.insnOffset, $1.offset) }.map(\.element)
    }

    /// The indices of `records` (sorted by offset) whose offset, in bytes, is in `range`.
    static func slice<R: OffsetRecord>(of records: [R], in range: Range<Int>) -> Range<Int> {
        func firstIndex(atLeast offset: Int) -> Int {
            var (lo, hi) = (0, records.count)
            while lo < hi {
                let mid = (lo + hi) / 2
                if Int(records[mid].insnOffset) < offset { lo = mid + 1 } else { hi = mid }
            }
            return lo
        }
        return firstIndex(atLeast: range.lowerBound)..<firstIndex(atLeast: range.upperBound)
    }

    /// String offsets that later steps print (file names, source lines, CO-RE access paths) must
    /// resolve, so that a bad one is reported here rather than as garbage later.
    private func checkStrings(btf: BTF, fail: (String) -> LoaderError) throws {
        for (section, records) in lineInfo {
            for (i, rec) in records.enumerated() where !btf.hasString(at: rec.fileNameOffset) || !btf.hasString(at: rec.lineOffset) {
                throw fail("line_info for '\(section)', record \(i): string offset is outside the .BTF string table")
            }
        }
        for (section, records) in coreRelocations {
            for (i, rec) in records.enumerated() where !btf.hasString(at: rec.accessStrOffset) {
                throw fail("core_relo for '\(section)', record \(i): access string offset \(rec.accessStrOffset) is outside the .BTF string table")
            }
        }
    }
}

/// Walks one info block: a record size, then groups of {section name, count, records}.
private struct InfoBlocks {
    let bytes: [UInt8]
    let base: Int
    let btf: BTF
    let fail: (String) -> LoaderError

    /// `read` is handed a reader holding exactly `minRecordSize` bytes, so its unwraps cannot fail.
    func parse<T>(_ what: String, offset: UInt32, length: UInt32, minRecordSize: Int,
                  _ read: (inout ByteReader) -> T) throws -> [String: [T]] {
        guard length > 0 else { return [:] }
        let start = base + Int(offset), end = start + Int(length)
        guard end <= bytes.count else {
            throw fail("\(what) (\(length) bytes at offset \(offset)) runs past the end of the \(bytes.count)-byte section")
        }
        var r = ByteReader(Array(bytes[start..<end]))
        guard let recordSize = r.u32().map(Int.init) else { throw fail("\(what): truncated record size") }
        guard recordSize >= minRecordSize, recordSize % 4 == 0 else {
            throw fail("\(what): record size \(recordSize) is smaller than \(minRecordSize) or not a multiple of 4")
        }
        var result: [String: [T]] = [:]
        while r.remaining > 0 {
            guard let nameOff = r.u32(), let count = r.u32().map(Int.init) else { throw fail("\(what): truncated section header") }
            guard let name = btf.string(at: nameOff), !name.isEmpty else {
                throw fail("\(what): section name offset \(nameOff) is outside the .BTF string table")
            }
            guard count > 0, count <= r.remaining / recordSize else {
                throw fail("\(what) for '\(name)': \(count) records of \(recordSize) bytes do not fit in the \(r.remaining) bytes left")
            }
            var records: [T] = []
            records.reserveCapacity(count)
            for _ in 0..<count {
                var one = ByteReader(Array(r.bytes(recordSize)!.prefix(minRecordSize)))
                records.append(read(&one))
            }
            result[name, default: []].append(contentsOf: records)
        }
        return result
    }
}
