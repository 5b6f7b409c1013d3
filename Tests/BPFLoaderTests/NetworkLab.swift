import Foundation
import Testing
@testable import BPFLoader

/// A veth pair for XDP and tc tests: `outside` in this network namespace (where programs attach),
/// `inside` in a namespace of its own, each with an address on a /30 of their own. Packets sent
/// from inside arrive on `outside`'s ingress; answers leave through its egress.
final class NetworkLab {
    let namespace: String
    let outside: String
    let inside: String
    let outsideAddress: String
    let insideAddress: String

    init() throws {
        let id = String(UInt32.random(in: 0..<UInt32.max), radix: 16)
        namespace = "bpfpipe-\(id)"
        outside = "bpo\(id)"
        inside = "bpi\(id)"
        // A random /30 in 10.0.0.0/8 keeps parallel labs apart.
        let net = UInt32.random(in: 1..<(1 << 22)) << 2
        func address(_ host: UInt32) -> String {
            let a = (10 << 24) | net | host
            return "\(a >> 24).\((a >> 16) & 255).\((a >> 8) & 255).\(a & 255)"
        }
        outsideAddress = address(1)
        insideAddress = address(2)
        try ip(["netns", "add", namespace])
        do {
            try ip(["link", "add", outside, "type", "veth", "peer", "name", inside, "netns", namespace])
            try ip(["addr", "add", outsideAddress + "/30", "dev", outside])
            try ip(["link", "set", outside, "up"])
            try ip(["-n", namespace, "addr", "add", insideAddress + "/30", "dev", inside])
            try ip(["-n", namespace, "link", "set", inside, "up"])
            // A veth passes nothing until both ends have carrier, which a loaded machine may
            // take a while to report; packets sent before that are dropped.
            let up = try eventually {
                let outer = try String(contentsOfFile: "/sys/class/net/\(outside)/operstate", encoding: .utf8)
                let inner = try ip(["-n", namespace, "-o", "link", "show", inside]).stdout
                return outer.hasPrefix("up") && inner.contains("state UP")
            }
            guard up else { throw FixtureError(message: "veth \(outside)/\(inside) did not come up within 20 s") }
        } catch {
            remove()
            throw error
        }
    }

    /// Sends `count` UDP datagrams from inside to the outside address.
    func sendFromInside(_ count: Int) throws {
        let r = try runBounded(ipExecutable, ["netns", "exec", namespace, try NetPoke.path, outsideAddress, String(count)], seconds: 30)
        guard r.status == 0 else { throw FixtureError(message: "netpoke in \(namespace) exited \(r.status): \(r.stderr)") }
    }

    /// Sends `count` UDP datagrams from this namespace to the inside address: out through
    /// `outside`'s egress.
    func sendFromOutside(_ count: Int) throws {
        let r = try runBounded(try NetPoke.path, [insideAddress, String(count)], seconds: 30)
        guard r.status == 0 else { throw FixtureError(message: "netpoke to \(insideAddress) exited \(r.status): \(r.stderr)") }
    }

    /// Sends batches of `batch` datagrams (from inside, or `outward` from this namespace) until
    /// `counted()` holds: a device that just got a program may drop the first packets while it
    /// reconfigures (veth turns on NAPI for native XDP), and ARP may need a retry. Gives up after
    /// 20 s; returns whether `counted()` came to hold.
    func sendFromInside(batches batch: Int, outward: Bool = false, until counted: () throws -> Bool) throws -> Bool {
        try eventually(seconds: 20) {
            if outward { try sendFromOutside(batch) } else { try sendFromInside(batch) }
            return try counted()
        }
    }

    /// Deleting the namespace deletes `inside`, and with it the whole veth pair.
    func remove() {
        _ = try? runBounded(ipExecutable, ["netns", "del", namespace], seconds: 30)
        _ = try? runBounded(ipExecutable, ["link", "del", outside], seconds: 30)
    }

    deinit { remove() }
}

/// Fixtures/netpoke.c.fixture, built once per test process.
enum NetPoke {
    static let built: Result<String, FixtureError> = {
        let out = Fixtures.outputDirectory + "/netpoke"
        do {
            let r = try runBounded("/usr/bin/env", ["clang", "-O1", "-x", "c", Fixtures.directory + "/netpoke.c.fixture", "-o", out], seconds: 120)
            return r.status == 0 ? .success(out) : .failure(FixtureError(message: "clang netpoke: \(r.stderr)"))
        } catch {
            return .failure(FixtureError(message: "clang netpoke: \(error)"))
        }
    }()
    static var path: String { get throws { try built.get() } }
}

/// A cgroup v2 folder for one test, removed at the end (after its processes have exited).
final class TestCgroup {
    static let root = "/sys/fs/cgroup/unified"
    let path: String

    init() throws {
        path = "\(TestCgroup.root)/bpfpipe-test-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    }

    /// Runs netpoke inside the cgroup: it joins, then creates one AF_INET socket.
    func createSocketInside() throws {
        let r = try runBounded(try NetPoke.path, ["127.0.0.1", "1", path], seconds: 30)
        guard r.status == 0 else { throw FixtureError(message: "netpoke in \(path) exited \(r.status): \(r.stderr)") }
    }

    deinit {
        // An exited child may linger in the cgroup for a moment; rmdir is retried, boundedly.
        for _ in 0..<50 {
            if rmdir(path) == 0 || errno == ENOENT { return }
            usleep(20_000)
        }
    }
}
