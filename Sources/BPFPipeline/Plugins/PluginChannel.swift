#if canImport(Glibc)
import Glibc
#endif

/// bpfpipe's side of a plugin child: the protocol socket and the pipe carrying the child's
/// stdout and stderr, served together by one poll loop under a deadline. So a silent child
/// cannot make bpfpipe wait forever, and a chatty one cannot block on a full pipe while bpfpipe
/// waits for its answer. The child's output is copied to bpfpipe's stderr a line at a time,
/// each line prefixed with `prefix`.
final class PluginChannel {
    let socket: Int32
    private(set) var output: Int32
    let prefix: String
    /// Where the child's lines go (bpfpipe's stderr).
    let sink: Int32
    private var received: [UInt8] = []
    private var partialLine: [UInt8] = []

    /// The deadline passed before the child answered.
    struct TimedOut: Error {}

    init(socket: Int32, output: Int32, prefix: String, sink: Int32 = 2) {
        self.socket = socket
        self.output = output
        self.prefix = prefix
        self.sink = sink
        for fd in [socket, output] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
    }

    deinit {
        close(socket)
        if output >= 0 { close(output) }
    }

    /// Sends `bytes` whole. MSG_NOSIGNAL: a child that went away is PluginWire.Closed, not a
    /// SIGPIPE for bpfpipe, and no process-wide signal disposition changes.
    func send(_ bytes: [UInt8], until deadline: ContinuousClock.Instant) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 { offset += n; continue }
            if n < 0 && (errno == EINTR) { continue }
            guard n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) else { throw PluginWire.Closed() }
            try wait(for: Int16(POLLOUT), until: deadline)
        }
    }

    /// Exactly `count` bytes from the socket.
    func receive(_ count: Int, until deadline: ContinuousClock.Instant) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while received.count < count {
            let n = buffer.withUnsafeMutableBytes { read(socket, $0.baseAddress, $0.count) }
            if n > 0 { received += buffer[0..<n]; continue }
            if n == 0 { throw PluginWire.Closed() }
            if errno == EINTR { continue }
            guard errno == EAGAIN || errno == EWOULDBLOCK else { throw PluginWire.Closed() }
            try wait(for: Int16(POLLIN), until: deadline)
        }
        let out = Array(received[0..<count])
        received.removeFirst(count)
        return out
    }

    /// A frame reader whose every read ends by `deadline`.
    func reader(until deadline: ContinuousClock.Instant) -> PluginWire.Reader {
        PluginWire.Reader { try self.receive($0, until: deadline) }
    }

    /// Waits until the socket is ready for `events`, copying the child's output meanwhile.
    private func wait(for events: Int16, until deadline: ContinuousClock.Instant) throws {
        while true {
            let left = ContinuousClock.now.duration(to: deadline)
            guard left > .zero else { throw TimedOut() }
            let ms = Int32(min(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1, 60_000))
            var fds = [pollfd(fd: socket, events: events, revents: 0), pollfd(fd: output, events: Int16(POLLIN), revents: 0)]
            let r = poll(&fds, output >= 0 ? 2 : 1, ms)
            if r < 0 && errno == EINTR { continue }
            if r < 0 { throw PluginWire.Closed() }
            if output >= 0 && fds[1].revents != 0 { drainOutput() }
            if fds[0].revents != 0 { return }
        }
    }

    /// Copies whatever output the child has written so far; at end of file, the last partial
    /// line too, and stops watching the pipe.
    func drainOutput() {
        guard output >= 0 else { return }
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(output, $0.baseAddress, $0.count) }
            if n > 0 { forward(buffer[0..<n]); continue }
            if n < 0 && errno == EINTR { continue }
            if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) {
                if !partialLine.isEmpty { forward([UInt8(ascii: "\n")]) }
                close(output)
                output = -1
            }
            return
        }
    }

    /// Waits up to `milliseconds` for output from the child and copies what came.
    func awaitOutput(milliseconds: Int32) {
        guard output >= 0 else { usleep(useconds_t(milliseconds) * 1000); return }
        var fds = [pollfd(fd: output, events: Int16(POLLIN), revents: 0)]
        if poll(&fds, 1, milliseconds) > 0 { drainOutput() }
    }

    private func forward(_ bytes: ArraySlice<UInt8>) {
        for b in bytes {
            // A very long line is cut, so a child printing without newlines cannot grow this.
            if b == UInt8(ascii: "\n") || partialLine.count >= 4096 {
                let line = Array((prefix + " ").utf8) + partialLine + [UInt8(ascii: "\n")]
                partialLine.removeAll(keepingCapacity: true)
                if b != UInt8(ascii: "\n") { partialLine.append(b) }
                var offset = 0
                while offset < line.count {
                    let n = line[offset...].withUnsafeBytes { write(sink, $0.baseAddress, $0.count) }
                    if n < 0 && errno == EINTR { continue }
                    guard n > 0 else { break }
                    offset += n
                }
            } else {
                partialLine.append(b)
            }
        }
    }
}
