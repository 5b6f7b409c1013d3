import CBPFSys
#if canImport(Glibc)
import Glibc
#endif

/// Starts programs with an argument vector (never through a shell); `run` also collects the output.
enum Subprocess {
    struct Result {
        var status: Int32
        var stdout: [UInt8]
        var stderr: [UInt8]
        var stderrText: String { String(decoding: stderr, as: UTF8.self) }
        var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    }

    struct LaunchError: Error, CustomStringConvertible {
        var executable: String
        var errno: Int32
        var description: String { "cannot run \(executable): \(String(cString: strerror(errno)))" }
    }

    /// Where a child's standard stream goes.
    enum Stream {
        case inherit, null, pipe
    }

    /// A started child and this process's ends of the pipes asked for (-1 for a stream not piped).
    struct Child {
        var pid: pid_t
        var stdin: Int32 = -1
        var stdout: Int32 = -1
        var stderr: Int32 = -1
    }

    /// Starts `executable` (looked up on PATH when it has no '/') with `environment` (nil: this
    /// process's). The parent's pipe ends are close-on-exec; the caller closes them and reaps `pid`.
    /// `descriptors` maps a descriptor number in the child to one of ours, dup2'ed after the
    /// streams (so it may replace one); ours should be above 2 and close-on-exec.
    static func spawn(_ executable: String, _ arguments: [String], environment: [String]? = nil,
                      stdin: Stream = .null, stdout: Stream = .pipe, stderr: Stream = .pipe,
                      descriptors: [Int32: Int32] = [:], directory: String? = nil) throws -> Child {
        // pipes[fd]: the pipe for stream fd, when it is piped.
        var pipes: [[Int32]?] = [nil, nil, nil]
        func closeParentEnds() { for (fd, p) in pipes.enumerated() { if let p { close(fd == 0 ? p[1] : p[0]) } } }
        func closeChildEnds() { for (fd, p) in pipes.enumerated() { if let p { close(fd == 0 ? p[0] : p[1]) } } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (fd, stream) in [stdin, stdout, stderr].enumerated() {
            switch stream {
            case .inherit: break
            case .null: posix_spawn_file_actions_addopen(&actions, Int32(fd), "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0)
            case .pipe:
                var p: [Int32] = [0, 0]
                guard pipe(&p) == 0 else {
                    let e = errno
                    closeParentEnds(); closeChildEnds()
                    throw LaunchError(executable: executable, errno: e)
                }
                // Close-on-exec so that other children spawned at the same time do not inherit these.
                for end in p { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
                pipes[fd] = p
                posix_spawn_file_actions_adddup2(&actions, fd == 0 ? p[0] : p[1], Int32(fd))
            }
        }
        for (target, source) in descriptors.sorted(by: { $0.key < $1.key }) {
            posix_spawn_file_actions_adddup2(&actions, source, target)
        }
        if let directory { cbpfsys_spawn_addchdir(&actions, directory) }

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        let envp = environment.map { $0.map { strdup($0) } + [nil] }
        defer { for p in envp ?? [] { free(p) } }
        var pid: pid_t = 0
        func start(_ envp: UnsafePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
            executable.contains("/")
                ? posix_spawn(&pid, executable, &actions, nil, argv, envp)
                : posix_spawnp(&pid, executable, &actions, nil, argv, envp)
        }
        let rc = envp.map { start($0) } ?? start(environ)
        closeChildEnds()
        guard rc == 0 else {
            closeParentEnds()
            throw LaunchError(executable: executable, errno: rc)
        }
        return Child(pid: pid, stdin: pipes[0]?[1] ?? -1, stdout: pipes[1]?[0] ?? -1, stderr: pipes[2]?[0] ?? -1)
    }

    /// `executable` is looked up on PATH when it has no '/'.
    /// `directory`: the child's working directory (nil: this process's).
    static func run(_ executable: String, _ arguments: [String], directory: String? = nil) throws -> Result {
        let child = try spawn(executable, arguments, directory: directory)
        defer { close(child.stdout); close(child.stderr) }

        // Drain both pipes together so a chatty child cannot block on a full pipe.
        var out: [UInt8] = [], err: [UInt8] = []
        var fds = [pollfd(fd: child.stdout, events: Int16(POLLIN), revents: 0), pollfd(fd: child.stderr, events: Int16(POLLIN), revents: 0)]
        var open = 2
        var buf = [UInt8](repeating: 0, count: 65536)
        while open > 0 {
            if poll(&fds, 2, -1) < 0 { if errno == EINTR { continue }; break }
            for i in 0..<2 where fds[i].fd >= 0 && fds[i].revents != 0 {
                let n = read(fds[i].fd, &buf, buf.count)
                if n > 0 {
                    if i == 0 { out += buf[0..<n] } else { err += buf[0..<n] }
                } else if n == 0 || errno != EINTR {
                    fds[i].fd = -1
                    open -= 1
                }
            }
        }
        var status: Int32 = 0
        while waitpid(child.pid, &status, 0) < 0 && errno == EINTR {}
        let exit = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Result(status: exit, stdout: out, stderr: err)
    }
}
