import BPFLoader
import CLibFuzzer
import Glibc

/// libFuzzer's entry point. The first byte picks what the rest is fed to, so one corpus and one
/// binary cover both parsers: an even byte opens the rest as a BPF ELF object and relocates it
/// without the kernel; an odd byte hands it to the BTF / BTF.ext parser directly.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let rest = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    if data[0] & 1 == 0 {
        openAndRelocate(rest)
    } else {
        _ = BTFParsing.check(rest)
    }
    return 0
}

/// Values of every kind a pipeline's `globals:` can hold, to write into whatever variables the
/// object declares.
private let globalValues: [GlobalLiteral] = [.integer(-1), .bool(true), .string("fuzz"), .list([.integer(1), .integer(2)])]

/// Open → global overrides → relocate (createMaps: false touches no kernel) → preprocess: every
/// step that reads the file's contents before anything reaches the kernel.
private func openAndRelocate(_ bytes: [UInt8]) {
    guard var spec = try? ObjectSpec.open(bytes: bytes, path: "fuzz.o") else { return }
    for variable in spec.globalVariables {
        for value in globalValues { try? spec.setGlobal(variable.name, to: value) }
    }
    let obj = BPFObject(spec: spec)
    guard (try? obj.relocate(createMaps: false)) != nil else { return }
    try? obj.preprocess()
}

// SwiftPM links every executable with `--defsym main=FuzzObjectOpen_main` (so tests can import
// it), which a `-parse-as-library` build never defines: libFuzzer's own `main` cannot be used
// (swiftlang/swift-package-manager#8731). So this module keeps its own main and hands control to
// libFuzzer's driver, which parses the flags and never returns for a normal run.
var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzz(data!, size) })
