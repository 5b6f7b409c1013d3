import BPFLoader
import BPFPipePluginABI
#if canImport(Glibc)
import Glibc
#endif

/// A preprocessor plugin: a shared object exporting `bpfpipe_plugin_v1` (see bpfpipe/plugin.h),
/// opened with dlopen and checked for the ABI version before anything of it runs.
public final class PluginLibrary: @unchecked Sendable {
    public let path: String
    public let name: String
    private let handle: UnsafeMutableRawPointer
    private let plugin: UnsafePointer<bpfpipe_plugin>

    public struct Failure: Error, CustomStringConvertible {
        public var path: String
        public var message: String
        public var description: String { "plugin \(path): \(message)" }
    }

    public init(path: String) throws {
        self.path = path
        try InstructionLayout.verify(plugin: path)
        // RTLD_LOCAL keeps one plugin's symbols from satisfying another's. RTLD_NODELETE because
        // a plugin written in Swift registers type metadata with the runtime, and unmapping it
        // later would leave the runtime pointing into freed memory.
        guard let h = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE) else {
            let why = dlerror().map { String(cString: $0) } ?? "unknown error"
            throw Failure(path: path, message: "cannot load it as a shared object: \(why)")
        }
        guard let sym = dlsym(h, "bpfpipe_plugin_v1") else {
            dlclose(h)
            throw Failure(path: path, message: "does not export bpfpipe_plugin_v1(); build it against bpfpipe/plugin.h")
        }
        typealias Entry = @convention(c) () -> UnsafePointer<bpfpipe_plugin>?
        guard let p = unsafeBitCast(sym, to: Entry.self)() else {
            dlclose(h)
            throw Failure(path: path, message: "bpfpipe_plugin_v1() returned NULL")
        }
        guard p.pointee.abi_version == UInt32(BPFPIPE_PLUGIN_ABI_VERSION) else {
            dlclose(h)
            throw Failure(path: path, message: "ABI version \(p.pointee.abi_version); this bpfpipe speaks version \(BPFPIPE_PLUGIN_ABI_VERSION)")
        }
        guard p.pointee.prep != nil else {
            dlclose(h)
            throw Failure(path: path, message: "has no prep function")
        }
        handle = h
        plugin = p
        name = p.pointee.name.map { String(cString: $0) } ?? path
    }

    deinit { dlclose(handle) }

    /// Starts one use of the plugin with its `with:` configuration as JSON. When `init` fails,
    /// its `last_error(state)` is read first and then `fini(state)` is called if it stored a
    /// state, so a plugin can keep its message in the state and still free it (plugin.h).
    public func instantiate(configJSON: String) throws -> PluginInstance {
        var state: UnsafeMutableRawPointer?
        if let initFn = plugin.pointee.`init` {
            let rc = configJSON.withCString { initFn($0, &state) }
            if rc != 0 {
                let detail = plugin.pointee.last_error.flatMap { $0(state) }.map { String(cString: $0) }
                if let state { plugin.pointee.fini?(state) }
                throw Failure(path: path, message: "init returned \(rc)" + (detail.map { ": \($0)" } ?? ""))
            }
        }
        return PluginInstance(library: self, state: state)
    }

    fileprivate var raw: bpfpipe_plugin { plugin.pointee }
}

/// A `prep` call that failed, in the plugin's words.
struct PrepFailure: Error, CustomStringConvertible {
    var description: String
}

/// One configured use of a plugin; `fini` runs when it is released.
public final class PluginInstance: @unchecked Sendable {
    let library: PluginLibrary
    private let state: UnsafeMutableRawPointer?

    init(library: PluginLibrary, state: UnsafeMutableRawPointer?) {
        self.library = library
        self.state = state
    }

    deinit { library.raw.fini?(state) }

    /// Calls `prep` for instance `n`; nil means skip. The plugin gets its own copy of the
    /// instructions (the seed's prep took a non-const pointer, and a plugin that writes through
    /// it must not change what later instances see); its answer is copied and released.
    public func prep(_ ctx: PreprocessContext, _ insns: [Instruction]) throws -> [Instruction]? {
        let raw = library.raw
        var result = bpfpipe_prep_result(new_insn_ptr: nil, new_insn_cnt: 0)
        let input = UnsafeMutablePointer<bpf_insn>.allocate(capacity: max(insns.count, 1))
        defer { input.deallocate() }
        // Byte copies between Instruction and bpf_insn: InstructionLayout checked they agree.
        insns.withUnsafeBytes { if let b = $0.baseAddress { UnsafeMutableRawPointer(input).copyMemory(from: b, byteCount: $0.count) } }
        let rc: Int32 = ctx.object.withCString { object in
            ctx.program.withCString { program in
                ctx.section.withCString { section in
                    var info = bpfpipe_prog_info(object: object, program: program, section: section,
                                                 prog_type: ctx.programType, instances: Int32(ctx.instances))
                    return raw.prep!(state, &info, Int32(ctx.instance), input, Int32(insns.count), &result)
                }
            }
        }
        // last_error is read before release, so the message may live in the buffer's bookkeeping.
        defer { if result.new_insn_ptr != nil { raw.release?(state, &result) } }
        if rc != 0 {
            let detail = raw.last_error.flatMap { $0(state) }.map { String(cString: $0) }
            // The stage chain already names the plugin, the program and the instance.
            throw PrepFailure(description: "prep returned \(rc)" + (detail.map { ": \($0)" } ?? ""))
        }
        guard result.new_insn_cnt >= 0 else {
            throw PrepFailure(description: "prep returned new_insn_cnt \(result.new_insn_cnt); a count must be 0 (skip the instance) or more")
        }
        guard let ptr = result.new_insn_ptr, result.new_insn_cnt > 0 else { return nil }
        guard result.new_insn_cnt <= Int32(InstructionLimits.kernelMaximum) else {
            throw PrepFailure(description: "prep returned \(result.new_insn_cnt) instructions, beyond the kernel's limit of \(InstructionLimits.kernelMaximum)")
        }
        let count = Int(result.new_insn_cnt)
        var out = [Instruction](repeating: Instruction(opcode: 0), count: count)
        out.withUnsafeMutableBytes { $0.baseAddress!.copyMemory(from: ptr, byteCount: count * MemoryLayout<bpf_insn>.stride) }
        return out
    }
}
