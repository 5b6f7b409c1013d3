import BPFLoader
#if canImport(Glibc)
import Glibc
#endif

/// A plugin run in a child process (`isolation: process`), so that a crash, an abort, memory
/// corruption or a hang in it becomes an error naming the plugin and the instance instead of
/// taking bpfpipe down. The child is `bpfpipe plugin-host PATH`; it gets the same config and the
/// same requests over a socket that is its descriptor 3. Its stdout and stderr go to bpfpipe's
/// stderr, each line prefixed with `[plugin NAME]`, and every wait for it ends by a deadline.
final class PluginProcess: @unchecked Sendable {
    let pluginPath: String
    let pluginName: String
    let timeout: Duration
    private let pid: pid_t
    private let channel: PluginChannel
    /// Set once the child is known to be gone (reaped), with how it ended.
    private var ended: String?

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The bpfpipe binary to run as the host: BPFPIPE_PLUGIN_HOST, or bpfpipe beside this executable.
    static var hostExecutable: String {
        if let env = getenv("BPFPIPE_PLUGIN_HOST") { return String(cString: env) }
        return Paths.executableDirectory() + "/bpfpipe"
    }

    /// How long the child may take over one answer (start-up and init, one prep, or exiting
    /// after fini): BPFPIPE_PLUGIN_TIMEOUT seconds, 30 by default.
    static let defaultTimeoutSeconds = 30
    static func configuredTimeout() throws -> Duration {
        guard let raw = getenv("BPFPIPE_PLUGIN_TIMEOUT").map({ String(cString: $0) }) else { return .seconds(defaultTimeoutSeconds) }
        guard let s = Int(raw), (1...86400).contains(s) else {
            throw Failure(description: "BPFPIPE_PLUGIN_TIMEOUT must be a whole number of seconds from 1 to 86400, not '\(raw)'")
        }
        return .seconds(s)
    }

    init(pluginPath: String, pluginName: String, configJSON: String) throws {
        self.pluginPath = pluginPath
        self.pluginName = pluginName
        timeout = try PluginProcess.configuredTimeout()
        let host = PluginProcess.hostExecutable
        // The Swift runtime's crash backtrace would land on our stderr; the parent reports the
        // crash itself, in one line that names the plugin and the instance.
        var environment: [String] = []
        var e = environ
        while let p = e.pointee { environment.append(String(cString: p)); e += 1 }
        environment = environment.filter { !$0.hasPrefix("SWIFT_BACKTRACE=") } + ["SWIFT_BACKTRACE=enable=no"]

        var pair: [Int32] = [-1, -1], out: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw Failure(description: "plugin \(pluginPath): cannot create its socket: \(String(cString: strerror(errno)))")
        }
        // A socket pair rather than a pipe for the output too: it is created close-on-exec in one
        // step, so no child another thread starts meanwhile can inherit (and hold open) it.
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &out) == 0 else {
            let why = String(cString: strerror(errno))
            close(pair[0]); close(pair[1])
            throw Failure(description: "plugin \(pluginPath): cannot create its output channel: \(why)")
        }
        // The child's ends move above the standard descriptors and 3, so that dup2 onto 1, 2
        // and 3 always makes a copy (which drops close-on-exec) instead of a no-op.
        let childSocket = fcntl(pair[1], F_DUPFD_CLOEXEC, 10), childOutput = fcntl(out[1], F_DUPFD_CLOEXEC, 10)
        close(pair[1]); close(out[1])
        defer { close(childSocket); close(childOutput) }
        let child: Subprocess.Child
        do {
            child = try Subprocess.spawn(host, ["plugin-host", pluginPath], environment: environment,
                                         stdin: .null, stdout: .inherit, stderr: .inherit,
                                         descriptors: [1: childOutput, 2: childOutput, PluginWire.childDescriptor: childSocket])
        } catch let e as Subprocess.LaunchError {
            close(pair[0]); close(out[0])
            throw Failure(description: "plugin \(pluginPath): cannot start the plugin host \(host): \(String(cString: strerror(e.errno)))")
        }
        pid = child.pid
        channel = PluginChannel(socket: pair[0], output: out[0], prefix: "[plugin \(pluginName)]")
        let deadline = ContinuousClock.now + timeout
        do {
            try channel.send(PluginWire.string(configJSON), until: deadline)
            let answer = channel.reader(until: deadline)
            let status = try answer.u32()
            if status != 0 {
                let message = try answer.string()
                stop()
                throw Failure(description: message)
            }
        } catch let e as Failure {
            throw e
        } catch {
            throw Failure(description: "plugin \(pluginPath) \(trouble(error)) while starting")
        }
    }

    deinit { stop() }

    func prep(_ ctx: PreprocessContext, _ insns: [Instruction]) throws -> [Instruction]? {
        let doing = "while preparing program '\(ctx.program)' instance \(ctx.instance)"
        if let ended { throw Failure(description: "plugin \(pluginPath) \(ended) before \(doing.dropFirst("while ".count))") }
        let request = PluginWire.u32(UInt32(ctx.instance)) + PluginWire.u32(UInt32(ctx.instances)) + PluginWire.u32(ctx.programType)
            + PluginWire.string(ctx.object) + PluginWire.string(ctx.program) + PluginWire.string(ctx.section)
            + PluginWire.instructions(insns)
        let deadline = ContinuousClock.now + timeout
        do {
            try channel.send(request, until: deadline)
            let answer = channel.reader(until: deadline)
            let status = try answer.u32()
            switch status {
            case 0:
                let out = try answer.instructions()
                return out.isEmpty ? nil : out
            case 1:
                throw Failure(description: try answer.string())
            default:
                throw PluginWire.Malformed(description: "status \(status)")
            }
        } catch let e as Failure {
            throw e
        } catch {
            throw Failure(description: "plugin \(pluginPath) \(trouble(error)) \(doing)")
        }
    }

    /// What went wrong with the child, in words for the error; afterwards the child is gone.
    private func trouble(_ error: any Error) -> String {
        switch error {
        case is PluginChannel.TimedOut:
            kill(pid, SIGKILL)
            _ = reap(until: nil)
            ended = "was killed"
            return "did not answer within \(seconds(timeout)) s (BPFPIPE_PLUGIN_TIMEOUT); bpfpipe killed it (pid \(pid))"
        case let m as PluginWire.Malformed:
            kill(pid, SIGKILL)
            _ = reap(until: nil)
            ended = "was killed"
            return "sent a malformed answer (\(m.description)); bpfpipe killed it (pid \(pid))"
        default:
            // The socket closed: the child is exiting, or closed it while alive.
            if let how = reap(until: ContinuousClock.now + timeout) { return how }
            kill(pid, SIGKILL)
            _ = reap(until: nil)
            ended = "was killed"
            return "closed its connection but did not exit within \(seconds(timeout)) s; bpfpipe killed it (pid \(pid))"
        }
    }

    /// Ends the child: closes the socket (the child then calls fini and exits), copies its last
    /// output, and waits for it up to the timeout before killing it.
    private func stop() {
        guard ended == nil else { return }
        shutdown(channel.socket, Int32(SHUT_RDWR))
        if reap(until: ContinuousClock.now + timeout) == nil {
            kill(pid, SIGKILL)
            _ = reap(until: nil)
            ended = "was killed"
        }
        channel.drainOutput()
    }

    /// Waits for the child to end, polling until `deadline` (nil: after SIGKILL, which ends it
    /// promptly); returns how it ended ("crashed with signal 11", "exited with status 3"), or
    /// nil if it is still running at the deadline.
    private func reap(until deadline: ContinuousClock.Instant?) -> String? {
        if let ended { return ended }
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, deadline == nil ? 0 : WNOHANG)
            if r < 0 && errno == EINTR { continue }
            if r < 0 { ended = "ended"; return ended }
            if r == pid { break }
            if let deadline, ContinuousClock.now >= deadline { return nil }
            // Waiting for the exit, not for the end of the output: a process the plugin started
            // may hold the pipe open long after the child is gone.
            channel.awaitOutput(milliseconds: 10)
        }
        channel.drainOutput()
        let signal = status & 0x7f
        if signal != 0 {
            ended = "crashed with signal \(signal)\(signal == SIGSEGV ? " (SIGSEGV)" : signal == SIGABRT ? " (SIGABRT)" : signal == SIGKILL ? " (SIGKILL)" : "")"
        } else {
            ended = "exited with status \((status >> 8) & 0xff)"
        }
        return ended
    }

    private func seconds(_ d: Duration) -> Int64 { d.components.seconds }
}
