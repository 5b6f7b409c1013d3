import Foundation
import Testing
@testable import BPFLoader

/// A little-endian ELF64 image a test can take apart and patch: just enough of the format to find
/// sections, symbols and relocations by name and rewrite one field of them.
struct ELFPatcher {
    var bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }
    init(path: String) throws { bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

    /// Offsets of the fields this test patches, in the ELF header, a section header (Elf64_Shdr),
    /// a symbol (Elf64_Sym) and a relocation (Elf64_Rel).
    enum Field {
        static let eiClass = 4, eiData = 5, eMachine = 18, eShoff = 40, eShentsize = 58, eShnum = 60, eShstrndx = 62
        static let shName = 0, shType = 4, shFlags = 8, shOffset = 24, shSize = 32, shLink = 40, shInfo = 44
        static let stName = 0, stShndx = 6, stValue = 8, stSize = 16
        static let rOffset = 0, rInfo = 8
        static let symbolSize = 24, relSize = 16
    }

    func read(_ offset: Int, _ size: Int) -> UInt64 {
        (0..<size).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) }
    }

    mutating func write(_ value: UInt64, at offset: Int, _ size: Int) {
        for i in 0..<size { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
    }

    var shoff: Int { Int(read(Field.eShoff, 8)) }
    var shnum: Int { Int(read(Field.eShnum, 2)) }

    struct Section {
        var index: Int
        var name: String
        /// Where this section's header starts in the file.
        var header: Int
        var type: UInt32
        var offset: Int
        var size: Int
        var link: Int
        var info: Int
    }

    func header(of index: Int) -> Int { shoff + index * Int(read(Field.eShentsize, 2)) }

    var sections: [Section] {
        let names = Int(read(header(of: Int(read(Field.eShstrndx, 2))) + Field.shOffset, 8))
        return (0..<shnum).map { i in
            let h = header(of: i)
            return Section(index: i, name: string(at: names + Int(read(h + Field.shName, 4))), header: h,
                           type: UInt32(read(h + Field.shType, 4)), offset: Int(read(h + Field.shOffset, 8)),
                           size: Int(read(h + Field.shSize, 8)), link: Int(read(h + Field.shLink, 4)),
                           info: Int(read(h + Field.shInfo, 4)))
        }
    }

    func section(_ name: String) throws -> Section {
        try #require(sections.first { $0.name == name }, "the fixture has no section '\(name)'")
    }

    func string(at offset: Int) -> String {
        String(decoding: bytes[offset...].prefix { $0 != 0 }, as: UTF8.self)
    }

    var symbolTable: Section { sections.first { $0.type == 2 }! }   // SHT_SYMTAB
    var symbolCount: Int { symbolTable.size / Field.symbolSize }

    /// File offset of symbol `index`'s entry.
    func symbol(_ index: Int) -> Int { symbolTable.offset + index * Field.symbolSize }

    func symbolIndex(named name: String) throws -> Int {
        let strtab = sections[symbolTable.link].offset
        return try #require((0..<symbolCount).first { string(at: strtab + Int(read(symbol($0) + Field.stName, 4))) == name },
                            "the fixture has no symbol '\(name)'")
    }

    /// Index of the unnamed STT_SECTION symbol of section `name`.
    func sectionSymbolIndex(of name: String) throws -> Int {
        let index = try section(name).index
        return try #require((0..<symbolCount).first { bytes[symbol($0) + 4] & 0xf == 3 && Int(read(symbol($0) + Field.stShndx, 2)) == index },
                            "the fixture has no section symbol for '\(name)'")
    }

    /// File offset of entry `n` of relocation section `relSection`.
    func relocation(in relSection: String, entry n: Int = 0) throws -> Int {
        try section(relSection).offset + n * Field.relSize
    }

    /// Writes the image to a fresh file and returns its path.
    func save(_ label: String) throws -> String {
        let path = "\(Fixtures.outputDirectory)/bad-\(label)-\(UUID().uuidString.prefix(8)).o"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }
}

/// One bad object: how to make it from the valid fixture, and a fragment of the error it must give.
struct BadObject: CustomTestStringConvertible, Sendable {
    var label: String
    var problem: String
    var make: @Sendable (inout ELFPatcher) throws -> Void
    var testDescription: String { label }

    static let all: [BadObject] = [
        BadObject(label: "text", problem: "not an ELF file") { $0.bytes = Array("SEC(\"socket\") int f() { return 0; }\n".utf8) },
        BadObject(label: "empty", problem: "not an ELF file") { $0.bytes = [] },
        BadObject(label: "truncated", problem: "lies outside the file") { $0.bytes.removeLast($0.bytes.count / 2) },
        BadObject(label: "x86-64", problem: "e_machine 62") { $0.write(62, at: ELFPatcher.Field.eMachine, 2) },
        BadObject(label: "elf32", problem: "not a 64-bit ELF object") { $0.bytes[ELFPatcher.Field.eiClass] = 1 },
        BadObject(label: "big-endian", problem: "big-endian") { $0.bytes[ELFPatcher.Field.eiData] = 2 },
        BadObject(label: "shoff-past-end", problem: "lies outside the file") { $0.write(UInt64($0.bytes.count), at: ELFPatcher.Field.eShoff, 8) },
        BadObject(label: "shnum-past-end", problem: "lies outside the file") { $0.write(UInt64($0.shnum + 1), at: ELFPatcher.Field.eShnum, 2) },
        BadObject(label: "section-name", problem: "name offset 1048576 is outside the section name table") {
            $0.write(1 << 20, at: try $0.section("socket").header + ELFPatcher.Field.shName, 4)
        },
        BadObject(label: "section-past-end", problem: "run past the end of the file") {
            $0.write(UInt64($0.bytes.count), at: try $0.section("socket").header + ELFPatcher.Field.shSize, 8)
        },
        BadObject(label: "code-size", problem: "code size 660 is not a multiple of 8") {
            let socket = try $0.section("socket")
            #expect(socket.size == 664, "the fixture changed; adjust the expected size")
            $0.write(UInt64(socket.size - 4), at: socket.header + ELFPatcher.Field.shSize, 8)
        },
        BadObject(label: "reloc-symbol", problem: "names symbol 1000, but the symbol table has") {
            let rel = try $0.relocation(in: ".relsocket")
            let type = $0.read(rel + ELFPatcher.Field.rInfo, 4)
            $0.write(1000 << 32 | type, at: rel + ELFPatcher.Field.rInfo, 8)
        },
        BadObject(label: "reloc-offset", problem: "relocation at offset 672: offset is not an instruction of the section (83 instructions)") {
            let size = try $0.section("socket").size
            $0.write(UInt64(size + 8), at: try $0.relocation(in: ".relsocket") + ELFPatcher.Field.rOffset, 8)
        },
        BadObject(label: "reloc-misaligned", problem: "offset is not an instruction of the section") {
            let rel = try $0.relocation(in: ".relsocket")
            $0.write($0.read(rel, 8) + 3, at: rel + ELFPatcher.Field.rOffset, 8)
        },
        BadObject(label: "symbol-section", problem: "section index 300 is out of range") {
            $0.write(300, at: $0.symbol(try $0.symbolIndex(named: "data_var")) + ELFPatcher.Field.stShndx, 2)
        },
        BadObject(label: "symbol-value", problem: "symbol 'data_var': 4 bytes at offset 18446744073709551615 lie outside section '.data'") {
            $0.write(.max, at: $0.symbol(try $0.symbolIndex(named: "data_var")) + ELFPatcher.Field.stValue, 8)
        },
        BadObject(label: "symbol-name", problem: "name offset 1048576 is outside the string table") {
            $0.write(1 << 20, at: $0.symbol(try $0.symbolIndex(named: "data_var")) + ELFPatcher.Field.stName, 4)
        },
    ]
}

/// Bad objects made from the valid features fixture, each read by the open step: it must throw a
/// LoaderError naming the file and the problem, and never trap.
@Suite struct BadObjectTests {
    static func fixture() throws -> ELFPatcher { try ELFPatcher(path: try Fixtures.object("features")) }

    /// Opens `bytes` under `path` and returns the LoaderError it must throw.
    func openError(_ bytes: [UInt8], path: String, sourceLocation: SourceLocation = #_sourceLocation) -> LoaderError? {
        let error = #expect(throws: LoaderError.self, sourceLocation: sourceLocation) { try ObjectSpec.open(bytes: bytes, path: path) }
        #expect(error?.file == path, sourceLocation: sourceLocation)
        #expect(error?.description.hasPrefix(path + ": ") == true, sourceLocation: sourceLocation)
        return error
    }

    @Test(arguments: BadObject.all)
    func badObjectIsRefusedWithTheFileAndTheProblem(_ bad: BadObject) throws {
        var image = try Self.fixture()
        try bad.make(&image)
        let path = try image.save(bad.label)
        let error = openError(image.bytes, path: path)
        #expect(error?.step == .open)
        #expect(error?.description.contains(bad.problem) == true, "\(error.map(String.init(describing:)) ?? "no error")")
        // Reading from the file gives the same error as reading from bytes.
        let fromFile = #expect(throws: LoaderError.self) { try ObjectSpec.open(path: path) }
        #expect(fromFile?.description == error?.description)
    }

    @Test func truncatedObjectAlwaysThrowsNeverTraps() throws {
        let image = try Self.fixture()
        let n = image.bytes.count
        var cuts = Set((0..<16).map { $0 * n / 16 })
        cuts.formUnion([0, 15, 16, 63, 64, image.shoff, image.shoff + 1, n - 1])
        for cut in cuts.sorted() {
            let path = "truncated-at-\(cut).o"
            let error = openError(Array(image.bytes.prefix(cut)), path: path)
            #expect(error?.step == .open, "cut at \(cut)")
            switch cut {
            case ..<16: #expect(error?.message == "not an ELF file")
            case ..<64: #expect(error?.message.contains("truncated ELF header (\(cut) bytes, need 64)") == true)
            case image.shoff...: #expect(error?.message.contains("section header table") == true, "cut at \(cut): \(error?.message ?? "")")
            default: break
            }
        }
    }

    @Test func relocationAgainstAnUndefinedDataSymbolFailsAtRelocateNamingIt() throws {
        // data_var made undefined: it reads as an extern, which the loader cannot resolve.
        var image = try Self.fixture()
        let sym = try image.symbolIndex(named: "data_var")
        image.write(0, at: image.symbol(sym) + ELFPatcher.Field.stShndx, 2)
        let path = try image.save("undefined-data")
        let object = BPFObject(spec: try ObjectSpec.open(bytes: image.bytes, path: path))
        let error = #expect(throws: LoaderError.self) { try object.relocate(createMaps: false) }
        #expect(error?.file == path)
        #expect(error?.step == .relocate)
        #expect(error?.description.contains("extern 'data_var' is not a __kconfig or __ksym extern, so bpfpipe cannot resolve it") == true, "\(error.map(String.init(describing:)) ?? "")")
    }

    @Test func relocationAgainstAnUndefinedSectionSymbolFailsAtOpen() throws {
        // The call into .text goes through the unnamed section symbol: undefined, it names nothing.
        var image = try Self.fixture()
        let sym = try image.sectionSymbolIndex(of: ".text")
        image.write(0, at: image.symbol(sym) + ELFPatcher.Field.stShndx, 2)
        let error = openError(image.bytes, path: try image.save("undefined-section"))
        #expect(error?.description.contains("relocation against an undefined") == true, "\(error.map(String.init(describing:)) ?? "")")
    }

    @Test func flippingAnyByteThrowsOrOpensNeverTraps() throws {
        let image = try Self.fixture()
        var opened = 0, refused = 0
        for k in 0..<300 {
            let offset = k * image.bytes.count / 300
            var bytes = image.bytes
            bytes[offset] ^= 0xff
            if tryOpenAndRelocate(bytes, path: "flip-\(offset).o") { opened += 1 } else { refused += 1 }
        }
        // Most flips land in debug info and change nothing the loader reads; some must be refused.
        #expect(opened + refused == 300 && refused > 0 && opened > 0)
    }

    /// Every message the sweep below may see: each names what is wrong and where, so that a
    /// field read without a check (a trap, or an error that says nothing) cannot pass.
    static let hugeValueMessages: [String] = [
        #"not a BPF object \(e_machine 65535, expected EM_BPF 247\)"#,
        #"not a relocatable object \(e_type 65535\); pass the \.o that clang -c produced"#,
        #"section header entry size 65535, expected 64 \(Elf64_Shdr\)"#,
        #"section header table \(offset \d+, \d+ entries\) lies outside the file of \d+ bytes"#,
        #"section \d+: name offset \d+ is outside the section name table"#,
        #"section '[^']+': \d+ bytes at offset \d+ run past the end of the file \(\d+ bytes\)"#,
        #"section '[^']+': sh_link 4294967295 is not a section \(the file has \d+\)"#,
        #"section '[^']+': size \d+ is implausibly large"#,
        #"section '[^']+': code size \d+ is not a multiple of 8 bytes \(one instruction\)"#,
        #"no symbol table \(was the object stripped\?\)"#,
        #"symbol \d+: name offset \d+ is outside the string table"#,
        #"symbol '[^']*': \d+ bytes at offset \d+ lie outside section '[^']+' \(\d+ bytes\)"#,
        #"symbol's section \d+ does not exist"#,
        #"no symbol for this map in section '[^']+'"#,
        #"relocation section '[^']+' names symbol \d+, but the symbol table has \d+"#,
        #"relocation section '[^']+' applies to section \d+, which does not exist"#,
        #"offset is not an instruction of the section \(\d+ instructions\)"#,
        #"relocation on an instruction that is neither a call nor a 64-bit load \(opcode 0x[0-9a-f]+\)"#,
        #"instruction \d+ calls instruction \d+ of section '[^']+', where no function is defined"#,
    ]

    @Test func hugeValueInAnyHeaderSymbolOrRelocationFieldThrowsOrOpens() throws {
        // Every field the reader takes from the file, set to all ones: the values that overflow
        // integer conversions and offset arithmetic.
        let image = try Self.fixture()
        typealias F = ELFPatcher.Field
        var fields: [(Int, Int)] = [(16, 2), (F.eMachine, 2), (24, 8), (32, 8), (F.eShoff, 8), (52, 2), (54, 2), (56, 2),
                                    (F.eShentsize, 2), (F.eShnum, 2), (F.eShstrndx, 2)]
        for s in image.sections {
            fields += [(0, 4), (4, 4), (8, 8), (16, 8), (24, 8), (32, 8), (40, 4), (44, 4), (48, 8), (56, 8)].map { (s.header + $0.0, $0.1) }
        }
        for i in 0..<image.symbolCount {
            fields += [(0, 4), (4, 1), (5, 1), (6, 2), (8, 8), (16, 8)].map { (image.symbol(i) + $0.0, $0.1) }
        }
        for s in image.sections where s.type == 9 {   // SHT_REL
            for e in 0..<min(s.size / F.relSize, 16) {
                fields += [(0, 8), (8, 4), (12, 4)].map { (s.offset + e * F.relSize + $0.0, $0.1) }
            }
        }
        let shapes = try Self.hugeValueMessages.map { try Regex($0) }
        var refusals = 0
        for (offset, size) in fields {
            var patched = image
            patched.write(.max, at: offset, size)
            guard let e = refusal(patched.bytes, path: "huge-\(offset).o") else { continue }
            refusals += 1
            #expect(e.step == .open || e.step == .relocate, "\(e)")
            #expect(shapes.contains { (try? $0.wholeMatch(in: e.message)) != nil },
                    "field at \(offset) (\(size) bytes): unexpected message '\(e.message)'")
        }
        #expect(refusals > 100)
        // Fields with one possible outcome, word for word.
        for (offset, message) in [(F.eMachine, "not a BPF object (e_machine 65535, expected EM_BPF 247)"),
                                  (F.eShentsize, "section header entry size 65535, expected 64 (Elf64_Shdr)")] {
            var patched = image
            patched.write(.max, at: offset, 2)
            #expect(refusal(patched.bytes, path: "x.o")?.message == message)
        }
    }

    /// The LoaderError opening and relocating `bytes` ends with, or nil when both succeed.
    func refusal(_ bytes: [UInt8], path: String) -> LoaderError? {
        do {
            let spec = try ObjectSpec.open(bytes: bytes, path: path)
            _ = InspectLike(spec)
            try BPFObject(spec: spec).relocate(createMaps: false)
            return nil
        } catch let e as LoaderError {
            #expect(e.file == path, "\(e)")
            return e
        } catch {
            Issue.record("\(path): not a LoaderError: \(error)")
            return nil
        }
    }

    /// Opens and, when that works, relocates without the kernel; true when both succeed. Anything
    /// thrown must be a LoaderError naming the file; a trap ends the test process.
    func tryOpenAndRelocate(_ bytes: [UInt8], path: String) -> Bool {
        do {
            let spec = try ObjectSpec.open(bytes: bytes, path: path)
            _ = InspectLike(spec)
            try BPFObject(spec: spec).relocate(createMaps: false)
            return true
        } catch let e as LoaderError {
            #expect(e.file == path, "\(e)")
            return false
        } catch {
            Issue.record("\(path): not a LoaderError: \(error)")
            return false
        }
    }
}

/// What `bpfpipe inspect` reads from a spec, so the sweeps exercise those accessors too.
private struct InspectLike {
    init(_ spec: ObjectSpec) {
        _ = spec.programs.map { ($0.name, $0.instructionCount) }
        _ = spec.maps.map { ($0.name, $0.typeName) }
        _ = spec.globalVariables
    }
}

extension BadObjectTests {
    /// `bpfpipe load` on bad objects: non-zero exit, the file and the problem on stderr, nothing pinned.
    @Suite(.enabled(if: KernelGate.enabled, "needs bpf() as root"), .kernel)
    struct Load {
        static let cases = BadObject.all.filter {
            ["text", "empty", "truncated", "x86-64", "elf32", "reloc-symbol", "reloc-offset", "code-size", "section-name"].contains($0.label)
        }

        @Test(arguments: cases)
        func loadRefusesBadObjectAndPinsNothing(_ bad: BadObject) throws {
            var image = try BadObjectTests.fixture()
            try bad.make(&image)
            let path = try image.save(bad.label)
            let pins = try PinDirectory()
            let result = try runBPFPipe(["load", path, "--pin", pins.path])
            #expect(result.status == 2, "\(result.stderr)")
            #expect(result.stderr.contains(path))
            #expect(result.stderr.contains(bad.problem), "\(result.stderr)")
            #expect(pins.contents().isEmpty)
        }

        @Test func loadOfUndefinedExternFailsAtRelocateAndPinsNothing() throws {
            var image = try BadObjectTests.fixture()
            let sym = try image.symbolIndex(named: "data_var")
            image.write(0, at: image.symbol(sym) + ELFPatcher.Field.stShndx, 2)
            let path = try image.save("undefined-data")
            let pins = try PinDirectory()
            let result = try runBPFPipe(["load", path, "--pin", pins.path])
            #expect(result.status == 1, "\(result.stderr)")
            #expect(result.stderr.contains("\(path): relocate: "))
            #expect(result.stderr.contains("extern 'data_var'"))
            #expect(pins.contents().isEmpty)
        }

        @Test func loadOfMissingFileIsInvalidInput() throws {
            let pins = try PinDirectory()
            let path = "\(Fixtures.outputDirectory)/no-such-object.o"
            let result = try runBPFPipe(["load", path, "--pin", pins.path])
            #expect(result.status == 2)
            #expect(result.stderr.contains("\(path): open: cannot open"))
            #expect(pins.contents().isEmpty)
        }
    }
}
