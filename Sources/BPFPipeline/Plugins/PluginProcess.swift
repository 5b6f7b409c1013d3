import BPFLoader
#if canImport(Glibc)
import Glibc
#endif

/// A plugin run in a child process (`isolation: process`), so that a crash, an abort or memory
/// corruption in it becomes an error naming the plugin and the instance instead of taking bpfpipe
/// down. The child is `bpfpipe plugin-host PATH`; it gets the same config and the same requests.
final class PluginProcess: @unchecked Sendable {
    let pluginPath: String
    private let pid: pid_t
    private let toChild: Int32
    private let fromChild: Int32

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The bpfpipe binary to run as the host: BPFPIPE_PLUGIN_HOST, or bpfpipe beside this executable.
    static var hostExecutable: String {
        if let env = getenv("BPFPIPE_PLUGIN_HOST") { return String(cString: env) }
        return Paths.executableDirectory() + "/bpfpipe"
    }

    init(pluginPath: String, configJSON: String) throws {
        self.pluginPath = pluginPath
        let host = PluginProcess.hostExecutable
        // The Swift runtime's crash backtrace would land on our stderr; the parent reports the
        // crash itself, in one line that names the plugin and the instance.
        var environment: [String] = []
        var e = environ
        while let p = e.pointee { environment.append(String(cString: p)); e += 1 }
        environment = environment.filter { !$0.hasPrefix("SWIFT_BACKTRACE=") } + ["SWIFT_BACKTRACE=enable=no"]
        let child: Subprocess.Child
        do {
            child = try Subprocess.spawn(host, ["plugin-host", pluginPath], environment: environment, stdin: .pipe, stdout: .pipe, stderr: .inherit)
        } catch let e as Subprocess.LaunchError {
            throw Failure(description: "plugin \(pluginPath): cannot start the plugin host \(host): \(String(cString: strerror(e.errno)))")
        }
        pid = child.pid
        toChild = child.stdin
        fromChild = child.stdout
        // A child that dies must not kill us with SIGPIPE on the next write.
        signal(SIGPIPE, SIG_IGN)
        do {
            try PluginWire.writeAll(toChild, PluginWire.string(configJSON))
            let status = try PluginWire.readU32(fromChild)
            if status != 0 { throw Failure(description: try PluginWire.readString(fromChild)) }
        } catch let e as Failure {
            throw e
        } catch {
            throw Failure(description: "plugin \(pluginPath) \(exitDescription()) while starting")
        }
    }

    deinit {
        close(toChild)
        close(fromChild)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    }

    func prep(_ ctx: PreprocessContext, _ insns: [Instruction]) throws -> [Instruction]? {
        let request = PluginWire.u32(UInt32(ctx.instance)) + PluginWire.u32(UInt32(ctx.instances)) + PluginWire.u32(ctx.programType)
            + PluginWire.string(ctx.object) + PluginWire.string(ctx.program) + PluginWire.string(ctx.section)
            + PluginWire.instructions(insns)
        do {
            try PluginWire.writeAll(toChild, request)
            let status = try PluginWire.readU32(fromChild)
            if status != 0 { throw Failure(description: try PluginWire.readString(fromChild)) }
            let out = try PluginWire.readInstructions(fromChild)
            return out.isEmpty ? nil : out
        } catch let e as Failure {
            throw e
        } catch {
            throw Failure(description: "plugin \(pluginPath) \(exitDescription()) while preparing program '\(ctx.program)' instance \(ctx.instance)")
        }
    }

    /// How the child ended ("crashed with signal 11", "exited with status 3").
    private func exitDescription() -> String {
        var status: Int32 = 0
        var r: pid_t
        repeat { r = waitpid(pid, &status, 0) } while r < 0 && errno == EINTR
        guard r == pid else { return "stopped answering" }
        let signal = status & 0x7f
        if signal != 0 { return "crashed with signal \(signal)\(signal == SIGSEGV ? " (SIGSEGV)" : signal == SIGABRT ? " (SIGABRT)" : "")" }
        return "exited with status \((status >> 8) & 0xff)"
    }
}
