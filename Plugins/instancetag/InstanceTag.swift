// Example preprocessor plugin in Swift: replaces the marker immediate 0x0badcafe with
// `tag * 1000 + n` for instance n, `tag` coming from the pipeline's `with: { tag: 7 }`.
// Built by `swift build` as libinstancetag.so. It uses only the C ABI in bpfpipe/plugin.h.
import BPFPipePluginABI

#if canImport(Glibc)
import Glibc
#endif

private let marker: Int32 = 0x0badcafe

/// Per-use state, handed to bpfpipe as an opaque pointer.
private final class TagState {
    var tag: Int32 = 0
    var error = ""
    var errorCString: UnsafeMutablePointer<CChar>?
    deinit { free(errorCString) }

    func fail(_ message: String) -> Int32 {
        error = message
        free(errorCString)
        errorCString = strdup(message)
        return -1
    }
}

/// Reads `"tag": <integer>` from the flat JSON object bpfpipe passes.
private func readTag(_ json: String) -> Int32?? {
    guard let r = json.firstRange(of: "\"tag\":") else { return .some(nil) }
    let digits = json[r.upperBound...].drop { $0 == " " }.prefix { $0 == "-" || $0.isNumber }
    guard let v = Int32(digits) else { return nil }
    return .some(v)
}

private let pluginInit: @convention(c) (UnsafePointer<CChar>?, UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 = { json, state in
    let s = TagState()
    // Stored before anything can fail: on a failed init bpfpipe reads last_error, then calls
    // fini, which releases it (plugin.h).
    state?.pointee = Unmanaged.passRetained(s).toOpaque()
    let text = json.map { String(cString: $0) } ?? "{}"
    guard let tag = readTag(text) else { return s.fail("'tag' must be an integer") }
    s.tag = tag ?? 0
    return 0
}

private let pluginPrep: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<bpfpipe_prog_info>?, Int32,
                                        UnsafePointer<bpf_insn>?, Int32, UnsafeMutablePointer<bpfpipe_prep_result>?) -> Int32 = { state, prog, n, insns, count, result in
    let s = Unmanaged<TagState>.fromOpaque(state!).takeUnretainedValue()
    guard let insns, let result, count > 0 else { return s.fail("no instructions") }
    let out = UnsafeMutablePointer<bpf_insn>.allocate(capacity: Int(count))
    out.initialize(from: insns, count: Int(count))
    var patched = 0
    for i in 0..<Int(count) where out[i].imm == marker {
        out[i].imm = s.tag * 1000 + n
        patched += 1
    }
    if patched == 0 {
        out.deallocate()
        let name = prog.flatMap { $0.pointee.program }.map { String(cString: $0) } ?? "?"
        return s.fail("marker 0x0badcafe not found in \(name)")
    }
    result.pointee.new_insn_ptr = out
    result.pointee.new_insn_cnt = count
    return 0
}

private let pluginRelease: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutablePointer<bpfpipe_prep_result>?) -> Void = { _, result in
    result?.pointee.new_insn_ptr?.deallocate()
    result?.pointee.new_insn_ptr = nil
}

private let pluginFini: @convention(c) (UnsafeMutableRawPointer?) -> Void = { state in
    if let state { Unmanaged<TagState>.fromOpaque(state).release() }
}

private let pluginLastError: @convention(c) (UnsafeMutableRawPointer?) -> UnsafePointer<CChar>? = { state in
    guard let state else { return nil }
    return UnsafePointer(Unmanaged<TagState>.fromOpaque(state).takeUnretainedValue().errorCString)
}

/// The descriptor lives for the life of the process, as the ABI requires.
nonisolated(unsafe) private let descriptor: UnsafeMutablePointer<bpfpipe_plugin> = {
    let p = UnsafeMutablePointer<bpfpipe_plugin>.allocate(capacity: 1)
    p.initialize(to: bpfpipe_plugin(abi_version: UInt32(BPFPIPE_PLUGIN_ABI_VERSION), name: UnsafePointer(strdup("instancetag")),
                                    init: pluginInit, prep: pluginPrep, release: pluginRelease, fini: pluginFini,
                                    last_error: pluginLastError))
    return p
}()

@_cdecl("bpfpipe_plugin_v1")
public func bpfpipePluginV1() -> UnsafePointer<bpfpipe_plugin> {
    UnsafePointer(descriptor)
}
